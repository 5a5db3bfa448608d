from django import forms
from django.contrib import admin
from django.http import JsonResponse

from core.admin import ReadOnlyAdmin

from .models import AttributionRun, OptOut, SubjectRequest
from .subjects import services
from .subjects.identity import Subject


@admin.register(AttributionRun)
class AttributionRunAdmin(ReadOnlyAdmin):
    """What the attribution engine ran: windows, settings versions, flooding sources, model weights."""

    list_display = ("app", "mode", "window_start", "window_end", "settings_version", "conversions", "finished_at")
    list_filter = ("mode",)
    search_fields = ("app__name",)
    date_hierarchy = "window_end"


class SubjectForm(forms.ModelForm):
    """A subject by its identifier (pseudonymised here, never stored) or by its pseudonym."""

    value = forms.CharField(
        required=False, max_length=512, help_text="The user id or device id as the app sent it (not stored)."
    )
    pseudonym = forms.CharField(required=False, max_length=32, help_text="Or its stored pseudonym.")

    def clean(self):
        data = super().clean()
        app = data.get("app")
        if app is not None and data.get("kind"):
            try:
                data["subject"] = Subject.of(
                    app_id=app.id, kind=data["kind"], value=data.get("value", ""), pseudonym=data.get("pseudonym", "")
                )
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return data


class OptOutForm(SubjectForm):
    class Meta:
        model = OptOut
        fields = ("app", "kind")


class SubjectRequestForm(SubjectForm):
    class Meta:
        model = SubjectRequest
        fields = ("app", "action", "kind")


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    """Opted-out subjects: added and removed through the same services as the API (audited)."""

    form = OptOutForm
    list_display = ("app", "kind", "pseudonym", "created_at", "created_by")
    list_filter = ("kind",)
    search_fields = ("pseudonym", "app__name")

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.opt_out_add(app=data["app"], subject=data["subject"], created_by=request.user)
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.opt_out_remove(opt_out=obj, removed_by=request.user)

    def delete_queryset(self, request, queryset):
        for opt_out in queryset:
            services.opt_out_remove(opt_out=opt_out, removed_by=request.user)


@admin.register(SubjectRequest)
class SubjectRequestAdmin(admin.ModelAdmin):
    """Data-subject requests: an export downloads at once (JSON); an erasure is run by the background
    job and shows its verified outcome here."""

    form = SubjectRequestForm
    list_display = ("requested_at", "app", "action", "kind", "pseudonym", "status", "requested_by", "finished_at")
    list_filter = ("action", "status", "kind")
    search_fields = ("pseudonym", "app__name")
    readonly_fields = ("status", "requested_by", "requested_at", "started_at", "finished_at", "outcome", "error")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        subject, app = form.cleaned_data["subject"], form.cleaned_data["app"]
        if form.cleaned_data["action"] == SubjectRequest.Action.EXPORT:
            request.subject_export = services.subject_export(app=app, subject=subject, requested_by=request.user)
            obj.pk = request.subject_export.request.pk
        else:
            obj.pk = services.subject_erasure_request(app=app, subject=subject, requested_by=request.user).pk

    def response_add(self, request, obj, post_url_continue=None):
        export = getattr(request, "subject_export", None)
        if export is None:
            return super().response_add(request, obj, post_url_continue)
        document = {"request": str(obj.pk), "kind": obj.kind, "pseudonym": obj.pseudonym, "tables": export.tables}
        response = JsonResponse(document, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="subject-export-{obj.pk}.json"'
        return response

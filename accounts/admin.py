from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from core.admin import ReadOnlyAdmin

from .forms import AdminSignInForm
from .models import SecurityEvent, User

# The admin's sign-in goes through the one sign-in policy (lockout, security log) like the API's.
admin.site.login_form = AdminSignInForm


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    ordering = ("email",)
    list_display = ("email", "name", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    readonly_fields = ("last_login", "date_joined")


@admin.action(description="Unlock sign-in (clear failed-login lockout)")
def unlock_sign_in(modeladmin, request, queryset):
    from .services import login_unlock

    for user in queryset:
        login_unlock(user=user)
    modeladmin.message_user(request, f"Unlocked {queryset.count()} account(s).")


UserAdmin.actions = [unlock_sign_in]


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    """Read-only: the security log is append-only; nobody edits or deletes it, here or anywhere."""

    list_display = ("timestamp", "action", "success", "user_email", "resource", "ip")
    list_filter = ("action", "success")
    search_fields = ("user_email", "resource", "ip")
    date_hierarchy = "timestamp"

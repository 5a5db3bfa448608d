"""The pages of what marketers configure: the app picker, tracking links, costs and attribution
settings. Reads and writes go through the services the API uses; authorization is the API's
(``accounts.rbac.pages``): readers see, holders of ``change_app`` change."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.rbac import pages
from accounts.rbac.selectors import apps_for_user
from core.errors import ApplicationError

from . import costs, links, services
from .forms import CostsUploadForm, LinkForm, SettingsForm, add_service_errors
from .models import AdSpend

RECENT_SPEND_ROWS = 100


def home(request: HttpRequest) -> HttpResponse:
    """``/``: the sign-in page for a visitor, the apps for a signed-in user."""
    return redirect("app-picker" if request.user.is_authenticated else "sign-in")


@login_required
def app_picker(request: HttpRequest) -> HttpResponse:
    """The apps the user may see; with exactly one, straight to it."""
    apps = list(apps_for_user(user=request.user).prefetch_related("platforms").order_by("status", "name"))
    if len(apps) == 1:
        return redirect("app-home", apps[0].id)
    for app in apps:
        app.platform_names = ", ".join(platform.platform for platform in app.platforms.all())
    return render(request, "pages/app_picker.html", {"apps": apps})


@pages.app_page(pages.READ)
def app_home(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    """An app's first page for this user: the overview, or the links for those who may not read analytics."""
    return redirect("overview" if page.can["dashboard"] else "links", page.app.id)


@pages.app_page(pages.READ)
def link_list(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    app_links = list(page.app.links.order_by("-created_at"))
    for link in app_links:
        link.plain_urls = [("Click URL", link.click_url), ("Impression URL", link.impression_url)]
        link.macro_urls = [
            ("Click URL with macros", link.click_url_with_macros),
            ("Impression URL with macros", link.impression_url_with_macros),
        ]
    created = request.GET.get("created", "")
    return render(
        request, "apps_registry/links.html", {"page": page, "nav": "links", "links": app_links, "created": created}
    )


@pages.app_page(pages.CHANGE)
@require_http_methods(["GET", "POST"])
def link_create(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    form = LinkForm(data=request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            link = links.link_create(app=page.app, created_by=request.user, **form.link_fields())
        except ApplicationError as error:
            add_service_errors(form, error, renames={"sub_params": "sub_params_text"})
        else:
            messages.success(request, f"Link “{link.name}” created. Copy its click and impression URLs below.")
            return redirect(f"{reverse('links', args=[page.app.id])}?created={link.id}#link-{link.id}")
    status = 400 if form.is_bound else 200
    return render(request, "apps_registry/link_new.html", {"page": page, "nav": "links", "form": form}, status=status)


def _costs_page(request, page: pages.AppPage, form: CostsUploadForm, error: ApplicationError | None = None, status=200):
    spend = AdSpend.objects.filter(app=page.app).order_by("-date", "source", "campaign", "adset", "ad")
    context = {
        "page": page,
        "nav": "costs",
        "form": form,
        "error": error,
        "bad_lines": error.extra.get("lines", []) if error else [],
        "header_problems": [text for text in error.extra.get("header", []) if text] if error else [],
        "spend": spend[:RECENT_SPEND_ROWS],
        "spend_total_rows": spend.count(),
    }
    return render(request, "apps_registry/costs.html", context, status=status)


@pages.app_page(pages.READ)
def cost_list(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    return _costs_page(request, page, CostsUploadForm())


@pages.app_page(pages.CHANGE)
@require_POST
def cost_upload(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    """A CSV imported whole or not at all; every bad line is listed with its number."""
    form = CostsUploadForm(data=request.POST, files=request.FILES)
    if not form.is_valid():
        return _costs_page(request, page, form, status=400)
    try:
        result = costs.costs_import(data=costs.csv_text(form.cleaned_data["file"].read()), app=page.app)
    except ApplicationError as error:
        return _costs_page(request, page, form, error=error, status=400)
    totals = ", ".join(f"{total} {currency}" for currency, total in sorted(result.total_cost.items()))
    messages.success(request, f"Imported {result.rows} line(s): {totals or 'no cost'}.")
    return redirect("costs", page.app.id)


def _shown(version, name: str):
    """A rule's value as a person reads it: a choice's label, on/off for a switch."""
    display = getattr(version, f"get_{name}_display", None)
    return display() if display else getattr(version, name)


@pages.app_page(pages.READ)
def attribution_settings(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    current = services.settings_current(app=page.app)
    context = {
        "page": page,
        "nav": "settings",
        "current": current,
        "rules": [(SettingsForm.base_fields[name].label, _shown(current, name), name) for name in current.RULE_FIELDS],
        "history": services.settings_history(app=page.app),
    }
    return render(request, "apps_registry/settings.html", context)


@pages.app_page(pages.CHANGE)
@require_http_methods(["GET", "POST"])
def attribution_settings_edit(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    current = services.settings_current(app=page.app)
    form = SettingsForm(data=request.POST if request.method == "POST" else None, initial=current.rules())
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in current.RULE_FIELDS}
        try:
            saved = services.settings_update(app=page.app, changed_by=request.user, **changes)
        except ApplicationError as error:
            add_service_errors(form, error)
        else:
            if saved.version == current.version:
                messages.info(request, f"Nothing changed: the settings stay at version {saved.version}.")
            else:
                messages.success(request, f"Saved as version {saved.version}. Attribution uses it from now on.")
            return redirect("attribution-settings", page.app.id)
    status = 400 if form.is_bound else 200
    context = {"page": page, "nav": "settings", "form": form, "current": current}
    return render(request, "apps_registry/settings_edit.html", context, status=status)

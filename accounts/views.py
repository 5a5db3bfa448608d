"""The web app's sign-in and sign-out pages (Django sessions, the accounts of the API)."""

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from . import audit
from .forms import PageSignInForm
from .models import SecurityEvent
from .services import SignInDoor


def _next_url(request: HttpRequest) -> str:
    """Where to go after signing in: the page that sent the visitor here, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return settings.LOGIN_REDIRECT_URL


def _status(form: PageSignInForm) -> int:
    if not form.is_bound:
        return 200
    codes = {error.code for error in form.non_field_errors().as_data()}
    return 429 if "locked_out" in codes else 503 if "unavailable" in codes else 400


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    form = PageSignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)  # a new session id: the one before sign-in is not carried over
        return redirect(_next_url(request))
    return render(request, "pages/sign_in.html", {"form": form, "next": _next_url(request)}, status=_status(form))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST only (with the CSRF token): a link or an image elsewhere cannot sign anyone out."""
    if request.user.is_authenticated:
        audit.record(SecurityEvent.Action.LOGOUT, success=True, user=request.user, metadata={"door": SignInDoor.PAGES})
    logout(request)
    return redirect("sign-in")

"""Sign-in forms of the session doors. Each authenticates through ``services.user_sign_in`` only, so
the lockout, the security log and the burst alerts are those of the API."""

import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from core.errors import ApplicationError

from . import bruteforce, services

LOCKED_OUT = "Too many failed sign-ins for this account or address. Try again in %(minutes)d minutes."
UNAVAILABLE = "Sign-in is temporarily unavailable. Try again shortly."


def _signed_in_user(*, request, email: str, password: str, door: services.SignInDoor, invalid: ValidationError):
    """The user the sign-in policy lets through, or the ValidationError a form shows: the lockout with
    its wait, the guard's outage, or ``invalid`` for every other failure (no user enumeration)."""
    try:
        return services.user_sign_in(request=request, email=email, password=password, door=door)
    except bruteforce.LockedOut as error:
        minutes = math.ceil(error.wait / 60)
        raise ValidationError(LOCKED_OUT, code="locked_out", params={"minutes": minutes}) from error
    except bruteforce.GuardUnavailable as error:
        raise ValidationError(UNAVAILABLE, code="unavailable") from error
    except ApplicationError as error:
        raise invalid from error


class AdminSignInForm(AdminAuthenticationForm):
    """Django admin's login form (``admin.site.login_form``); on success the admin starts the session."""

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is None or not password:
            return self.cleaned_data  # the field errors say what is missing
        self.user_cache = _signed_in_user(
            request=self.request,
            email=email,
            password=password,
            door=services.SignInDoor.ADMIN,
            invalid=self.get_invalid_login_error(),
        )
        return self.cleaned_data


class PageSignInForm(forms.Form):
    """The web app's sign-in (``/sign-in``); on success the view starts the session."""

    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, request, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None

    def clean(self):
        email = self.cleaned_data.get("email")
        password = self.cleaned_data.get("password")
        if email is None or not password:
            return self.cleaned_data
        self.user = _signed_in_user(
            request=self.request,
            email=email,
            password=password,
            door=services.SignInDoor.PAGES,
            invalid=ValidationError(services.INVALID_CREDENTIALS, code="invalid_login"),
        )
        return self.cleaned_data

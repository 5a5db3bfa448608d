"""Sign-in forms of the session doors. Each authenticates through ``services.user_sign_in`` only, so
the lockout, the security log and the burst alerts are those of the API."""

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from core.errors import ApplicationError

from . import bruteforce, services


class AdminSignInForm(AdminAuthenticationForm):
    """Django admin's login form (``admin.site.login_form``); on success the admin starts the session."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked_out": "Too many failed sign-ins for this account or address. Try again in %(minutes)d minutes.",
        "unavailable": "Sign-in is temporarily unavailable. Try again shortly.",
    }

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is None or not password:
            return self.cleaned_data  # the field errors say what is missing
        try:
            self.user_cache = services.user_sign_in(
                request=self.request, email=email, password=password, door=services.SignInDoor.ADMIN
            )
        except bruteforce.LockedOut as error:
            minutes = math.ceil(error.wait / 60)
            raise ValidationError(
                self.error_messages["locked_out"], code="locked_out", params={"minutes": minutes}
            ) from error
        except bruteforce.GuardUnavailable as error:
            raise ValidationError(self.error_messages["unavailable"], code="unavailable") from error
        except ApplicationError as error:
            raise self.get_invalid_login_error() from error
        return self.cleaned_data

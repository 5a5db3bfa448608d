import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first superuser if no user exists yet. The password comes from "
        "DEMO_ADMIN_PASSWORD, or is generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", default=None, help="Defaults to the DEMO_ADMIN_EMAIL setting.")

    def handle(self, *args, **options):
        from django.conf import settings

        user_model = get_user_model()
        if user_model.objects.exists():
            self.stdout.write("Users exist already; no admin created.")
            return
        email = options["email"] or settings.DEMO_ADMIN_EMAIL
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(email=email, password=password)
        shown = "(from DEMO_ADMIN_PASSWORD)" if os.environ.get("DEMO_ADMIN_PASSWORD") else password
        self.stdout.write(self.style.SUCCESS(f"Admin created: {email} / password {shown} — shown only once."))

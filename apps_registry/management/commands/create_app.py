from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from apps_registry import keys, services
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an app and its first SDK API key (printed once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="Email of the owning user.")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument(
            "--platform",
            action="append",
            default=[],
            metavar="PLATFORM[:BUNDLE_ID]",
            help="ios:com.example.app, android:com.example.app or web:example.com (repeatable).",
        )

    def handle(self, *args, **options):
        owner = User.objects.filter(email=options["owner"].lower()).first()
        if owner is None:
            raise CommandError(f"No user with email {options['owner']}.")
        platforms = []
        for spec in options["platform"]:
            platform, _, ident = spec.partition(":")
            entry = {"platform": platform}
            if platform == "web":
                entry["web_domains"] = [ident] if ident else []
            elif ident:
                entry["bundle_id"] = ident
            platforms.append(entry)
        try:
            app = services.app_create(
                owner=owner,
                name=options["name"],
                timezone=options["timezone"],
                currency=options["currency"],
                platforms=platforms,
            )
        except ApplicationError as error:
            raise CommandError(f"{error.message} {error.extra}") from error
        _, raw_key = keys.api_key_create(app=app, created_by=owner, name="initial")
        self.stdout.write(f"app id:  {app.id}")
        self.stdout.write(f"API key: {raw_key}")
        self.stdout.write("The key is shown only now; store it in your SDK configuration.")

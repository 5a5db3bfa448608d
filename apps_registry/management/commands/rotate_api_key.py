import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from apps_registry import keys
from apps_registry.models import ApiKey


class Command(BaseCommand):
    help = "Replace an SDK API key (by its prefix); the old key keeps working for --overlap-hours (0: revoked at once)."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="The key's prefix, e.g. ump_AbCd1234_ or AbCd1234.")
        parser.add_argument("--overlap-hours", type=int, default=24)

    def handle(self, *args, **options):
        prefix = options["prefix"].removeprefix("ump_").rstrip("_")
        key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
        if key is None:
            raise CommandError(f"No active key with prefix {options['prefix']}.")
        overlap = dt.timedelta(hours=options["overlap_hours"])
        raw_key = keys.api_key_rotate(key=key, created_by=None, overlap=overlap).raw
        self.stdout.write(f"new API key: {raw_key}")
        if key.revoked_at is not None:
            self.stdout.write(f"ump_{key.prefix}_ is revoked.")
        else:
            self.stdout.write(f"ump_{key.prefix}_ stops working at {key.expires_at:%Y-%m-%d %H:%M} UTC.")

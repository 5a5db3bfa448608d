"""Demo data worth reading (``events.demo`` draws it), sent through the real ingestion endpoints, spend
through the cost import, then stored and attributed so every report has something to show."""

import datetime as dt
import math
import time

import orjson
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.test.utils import override_settings

from accounts.models import User
from apps_registry import costs, keys, links, services
from apps_registry.models import App
from core.command_runs import ServerCommand
from events import demo
from events.attribution_engine import services as attribution
from events.attribution_engine.services import RUN_PERIOD
from events.models import OutboxMessage

BATCH = 1000  # items per request, at most INGEST_MAX_EVENTS_PER_BATCH


class Command(ServerCommand):
    help = (
        "Create two demo apps and send them realistic traffic (multi-touch paths, impressions, purchases in "
        "two currencies, re-engagements, reinstalls, a click-flooding source) through the API, import their "
        "ad spend, store it and attribute it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--installs", type=int, default=1500, help="Installs per app (organic and paid).")
        parser.add_argument("--days", type=int, default=90, help="History length in days, ending now.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when the demo apps exist.")

    def handle(self, *args, **options):
        if not 1 <= options["days"] <= 365 or options["installs"] < 1:
            raise CommandError("--days is 1 to 365 and --installs at least 1.")
        if options["if_empty"] and App.objects.filter(name=demo.DEMO_APPS[0].name).exists():
            self.stdout.write("Demo data exists; nothing to do.")
            return
        owner = User.objects.filter(is_superuser=True).order_by("date_joined").first()
        if owner is None:
            raise CommandError("Create an admin first (manage.py ensure_admin).")
        started = time.monotonic()
        # The euro amounts need rates: the shipped demo rates (their two dates replace any rates of those dates).
        call_command("import_exchange_rates", stdout=self.stdout)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        apps = []
        # The demo backfills history: its own requests may carry times older than ingestion takes from SDKs.
        with override_settings(INGEST_MAX_PAST_DAYS=options["days"] + demo.CLICK_LOOKBACK.days + 4):
            for spec in demo.DEMO_APPS:
                apps.append(self._app(spec, owner, now, options))
        self._store()
        # Whole periods of the engine's run length ending now, reaching back past the first install.
        periods = math.ceil(dt.timedelta(days=options["days"]) / RUN_PERIOD)
        for app in apps:
            runs = attribution.attribution_history(app=app, since=now - periods * RUN_PERIOD, until=now)
            flooding = sorted({source for run in runs for source in run.flooding_sources})
            self.stdout.write(
                f"{app.name}: {sum(run.conversions for run in runs)} conversions attributed; "
                f"click-flooding sources: {', '.join(flooding) or 'none'}"
            )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {time.monotonic() - started:.1f} s."))

    def _store(self) -> None:
        """Store everything sent. Handed to a running server, the server's own drain may hold the last
        batches when this drain finds nothing left: wait until the outbox is empty before attributing."""
        call_command("consume_events", until_idle=True, metrics_port=0, stdout=self.stdout)
        if settings.KAFKA_BOOTSTRAP_SERVERS:
            return
        deadline = time.monotonic() + 2 * settings.OUTBOX_LEASE_SECONDS
        while OutboxMessage.objects.exists():
            if time.monotonic() > deadline:
                raise CommandError("The outbox is not drained; is the consumer failing? Its log says why.")
            time.sleep(0.2)

    def _app(self, spec: demo.DemoApp, owner: User, now: dt.datetime, options: dict) -> App:
        app = services.app_create(
            owner=owner,
            name=spec.name,
            timezone=spec.timezone,
            currency=spec.currency,
            platforms=[{"platform": spec.platform, "bundle_id": spec.bundle_id}],
        )
        _, raw_key = keys.api_key_create(app=app, created_by=owner, name="demo")
        store = {
            "ios": "https://apps.apple.com/app/id123456789",
            "android": f"https://play.google.com/store/apps/details?id={spec.bundle_id}",
        }[spec.platform]
        codes = {
            key: links.link_create(
                app=app,
                created_by=owner,
                name=" ".join(key),
                media_source=key[0],
                campaign=key[1],
                adset=key[2],
                ad=key[3],
                web_url="https://example.com/",
                **{f"{spec.platform}_url": store},
            ).code
            for key in demo.link_keys(spec.platform)
        }
        plan = demo.Planner(app=spec, links=codes, now=now, days=options["days"], seed=options["seed"]).plan(
            options["installs"]
        )
        client = Client()
        for path, field, items in (
            ("/api/touchpoints", "touchpoints", plan.touches),
            ("/api/events", "events", plan.events),
        ):
            for start in range(0, len(items), BATCH):
                self._post(client, path, raw_key, {field: items[start : start + BATCH]})
        spend = costs.costs_import(data=plan.costs_csv(spec.currency), app=app)
        self.stdout.write(
            f"{app.name} ({spec.timezone}, {spec.currency}): {len(plan.touches)} touchpoints and "
            f"{len(plan.events)} events sent, {spend.rows} rows of daily ad spend imported"
        )
        return app

    def _post(self, client: Client, path: str, key: str, payload: dict) -> None:
        response = client.post(path, orjson.dumps(payload), content_type="application/json", HTTP_X_API_KEY=key)
        if response.status_code != 202:
            raise CommandError(f"{path} answered {response.status_code}: {response.content[:300]!r}")
        rejected = orjson.loads(response.content).get("rejected")
        if rejected:
            raise CommandError(f"{path} refused {len(rejected)} item(s), e.g. {rejected[0]}")

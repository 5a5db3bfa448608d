"""Realistic demo data, sent through the real ingestion endpoints (not inserted directly)."""

import datetime as dt
import math
import random
import uuid

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from tqdm import tqdm

from accounts.models import User
from apps_registry import keys, links, services
from apps_registry.models import App

DEMO_APPS = [("Demo: Puzzle Quest", "ios", "com.example.puzzle"), ("Demo: Fit Tracker", "android", "com.example.fit")]
# source: (clicks per install, share of installs, click-to-install minutes median, fraud kind)
SOURCES = {
    "meta": (8, 0.35, 40, None),
    "google_ads": (6, 0.30, 25, None),
    "tiktok": (15, 0.15, 60, None),
    "unity_ads": (25, 0.10, 90, None),
    "shady_network": (400, 0.05, 600, "flooding"),
    "injector_net": (3, 0.05, 0.1, "injection"),
}
CAMPAIGNS = ["spring_sale", "retargeting", "brand"]
RETENTION = {1: 0.40, 3: 0.25, 7: 0.15, 14: 0.09, 30: 0.05}
AGENTS = {
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "android": "Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP3A.241105.008; wv) Chrome/131.0 Mobile",
}


class Command(BaseCommand):
    help = "Send realistic synthetic campaigns, clicks, installs, sessions and purchases through the API."

    def add_arguments(self, parser):
        parser.add_argument("--installs", type=int, default=1500, help="Attributed + organic installs per app.")
        parser.add_argument("--days", type=int, default=28, help="History length (at most 29).")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when the demo apps exist.")

    def handle(self, *args, **options):
        if options["days"] > 29:
            raise CommandError("--days is at most 29: older events are refused by ingestion.")
        if options["if_empty"] and App.objects.filter(name=DEMO_APPS[0][0]).exists():
            self.stdout.write("Demo data exists; nothing to do.")
            return
        owner = User.objects.filter(is_superuser=True).order_by("date_joined").first()
        if owner is None:
            raise CommandError("Create an admin first (manage.py ensure_admin).")
        self.random = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        self.client = Client()
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for name, platform, bundle in DEMO_APPS:
            app = services.app_create(owner=owner, name=name, platforms=[{"platform": platform, "bundle_id": bundle}])
            _, raw_key = keys.api_key_create(app=app, created_by=owner, name="demo")
            app_links = {
                (source, campaign): links.link_create(
                    app=app,
                    created_by=owner,
                    name=f"{source} {campaign}",
                    media_source=source,
                    campaign=campaign,
                    adset=f"{campaign}_broad",
                    ad="video_15s",
                    web_url="https://example.com/",
                    ios_url="https://apps.apple.com/app/id123456789",
                    android_url=f"https://play.google.com/store/apps/details?id={bundle}",
                )
                for source in SOURCES
                for campaign in CAMPAIGNS
            }
            self._app(app, raw_key, platform, app_links, options["installs"], options["days"])
        self.stdout.write(self.style.SUCCESS("Demo data sent; the consumer stores it in ClickHouse."))

    def _post(self, path: str, key: str, payload: dict) -> None:
        response = self.client.post(path, orjson.dumps(payload), content_type="application/json", HTTP_X_API_KEY=key)
        if response.status_code != 202:
            raise CommandError(f"{path} answered {response.status_code}: {response.content[:300]!r}")

    def _app(self, app, raw_key, platform, app_links, installs, days):
        rnd, touches, events = self.random, [], []
        for _ in tqdm(range(installs), desc=app.name, unit="install"):
            device = str(uuid.uuid4()).upper()
            id_kind = "idfa" if platform == "ios" else "gaid"
            install_at = self.now - dt.timedelta(seconds=rnd.uniform(3600, days * 86400))
            organic = rnd.random() < 0.3
            if not organic:
                source = rnd.choices(list(SOURCES), weights=[s[1] for s in SOURCES.values()])[0]
                per_install, _, ctit_median, fraud = SOURCES[source]
                link = app_links[(source, rnd.choice(CAMPAIGNS))]
                ctit = 60 * (
                    rnd.uniform(1, 24 * 60) if fraud == "flooding" else rnd.lognormvariate(math.log(ctit_median), 0.8)
                )
                if fraud == "injection":
                    ctit = rnd.uniform(1, 9)
                click_at = install_at - dt.timedelta(seconds=ctit)
                touches.append(self._touch("click", link, click_at, {id_kind: device}))
                for _ in range(min(per_install - 1, 40)):  # the clicks that did not convert
                    touches.append(
                        self._touch("click", link, click_at - dt.timedelta(minutes=rnd.uniform(1, 2000)), {})
                    )
                if rnd.random() < 0.5:
                    touches.append(
                        self._touch("impression", link, click_at - dt.timedelta(minutes=5), {id_kind: device})
                    )
            user = f"user-{device[:8]}"
            base = {"device_ids": {id_kind: device}, "platform": platform, "app_version": "3.2.0", "user_id": user}
            events.append({**base, "event_name": "install", "timestamp": install_at.isoformat()})
            for day, rate in RETENTION.items():
                at = install_at + dt.timedelta(days=day, minutes=rnd.uniform(0, 600))
                if at < self.now and rnd.random() < rate:
                    events.append({**base, "event_name": "session_start", "timestamp": at.isoformat()})
                    if rnd.random() < 0.12:
                        revenue = rnd.choice([0.99, 4.99, 9.99, 19.99])
                        events.append(
                            {
                                **base,
                                "event_name": "purchase",
                                "timestamp": at.isoformat(),
                                "revenue": revenue,
                                "currency": "USD",
                                "properties": {"sku": f"gems_{revenue}"},
                            }
                        )
        for start in range(0, len(touches), 500):
            self._post("/api/touchpoints", raw_key, {"touchpoints": touches[start : start + 500]})
        for start in range(0, len(events), 500):
            self._post("/api/events", raw_key, {"events": events[start : start + 500]})
        self.stdout.write(f"{app.name}: {len(touches)} touchpoints, {len(events)} events")

    def _touch(self, kind, link, at, device_ids):
        ip = f"198.51.100.{self.random.randint(1, 254)}"
        return {
            "type": kind,
            "link_code": link.code,
            "timestamp": at.isoformat(),
            "device_ids": device_ids,
            "ip": ip,
            "site_id": self.random.choice(["feed", "stories", "reels"]),
        }

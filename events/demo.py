"""The demo's traffic, drawn from a seeded random generator: what ``manage.py seed_demo`` sends through
the real ingestion endpoints and imports as ad spend. Nothing here does I/O; the same seed, time and
links give the same plan.

The story it tells, per app, over the last ``days`` days of the app's time zone:

* Paid installs follow paths of one to four clicks of different sources within the click lookback:
  awareness networks (tiktok, unity_ads, meta) tend to open a path, search (google_ads,
  apple_search_ads) tends to close it, so first touch, last touch and the fractional models credit
  sources differently. Some paid installs come from an impression alone (view-through).
* Every click and impression carries its campaign, ad set and ad (a tracking link each); most clicks
  do not convert and most impressions are never clicked.
* ``shady_network`` starts in the last weeks and floods: bursts of clicks, some with device ids of
  people who then install organically, hours to days later (the engine's click-flooding rule).
* Activity decays: a user stays with a probability that falls with the days since install, and is
  active on most days while staying. Payers buy in US dollars or euros, by country.
* Some lapsed users come back through a retargeting click (a re-engagement); some reinstall.
* Each ad spends every day it runs: what its network earned over the whole period (its price per
  install the ad closed, or per retargeting click) as a daily budget that follows the app's growth,
  in the app's currency (meta bills in US dollars everywhere).
"""

import datetime as dt
import math
import random
import uuid
import zoneinfo
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    closes: float  # weight as the last click of a paid path
    opens: float  # weight as an earlier click of a paid path
    clicks_per_install: int  # clicks sent for each click of a converting path
    impressions_per_click: int
    ctit_minutes: float  # median time from the last click to the install
    cpi_usd: float  # what it bills per install it closed
    campaigns: tuple[str, ...]  # acquisition campaigns
    retargeting: str = ""  # its retargeting campaign, if any
    platforms: tuple[str, ...] = ("ios", "android")


SOURCES = {
    "meta": Source(0.30, 0.30, 6, 7, 30, 2.40, ("spring_sale", "lookalike_payers"), "retargeting_lapsed"),
    "google_ads": Source(0.30, 0.10, 4, 5, 15, 2.90, ("search_brand", "uac_installs"), "remarketing"),
    "tiktok": Source(0.12, 0.30, 5, 14, 45, 1.60, ("creators_ugc", "spark_ads")),
    "unity_ads": Source(0.10, 0.25, 5, 18, 70, 1.20, ("rewarded_video", "playables", "interstitial")),
    "apple_search_ads": Source(0.18, 0.05, 3, 4, 10, 3.50, ("brand_keywords", "competitor_keywords"), "", ("ios",)),
}
ADSETS = ("broad", "lookalike")
ADS = ("video_15s", "static_banner")
FLOODER = "shady_network"
FLOODER_CAMPAIGN = "cpi_blast"
FLOODER_CPI_USD = 0.60
FLOODER_START_DAYS = 42  # the flooder runs during the last this many days
FLOODER_STEALS = 0.35  # of the organic installs while it runs, those it sent a click to beforehand
FLOODER_CLICKS_PER_STOLEN = 45
RETARGETING_CPC_USD = 0.45
VIEW_THROUGH_SOURCES = ("unity_ads", "tiktok", "meta")

ORGANIC_SHARE = 0.35
VIEW_THROUGH_SHARE = 0.08  # of paid installs
EXTRA_CLICKS = (0, 1, 2, 3)  # earlier clicks of a paid path, with these weights
EXTRA_CLICK_WEIGHTS = (35, 35, 20, 10)
CLICK_LOOKBACK = dt.timedelta(days=7)

# Survival after install: still a user on day d with probability STAY_D1 * d**-STAY_DECAY; while
# staying, active on a day with probability ACTIVE_WHILE_STAYING.
STAY_D1 = 0.62
STAY_DECAY = 0.5
ACTIVE_WHILE_STAYING = 0.65
PAYER_SHARE = {"organic": 0.09, "google_ads": 0.13, "apple_search_ads": 0.14, "meta": 0.12, FLOODER: 0.09}
PAYER_SHARE_OTHER = 0.08
BUY_ON_ACTIVE_DAY = 0.4
PRICES = (0.99, 2.99, 4.99, 9.99, 19.99, 49.99)
PRICE_WEIGHTS = (30, 20, 25, 15, 7, 3)
REINSTALL_SHARE = 0.05
REENGAGE_SHARE = 0.12  # of users lapsed for long enough, those a retargeting click brings back
LAPSE_DAYS = 10  # a retargeting campaign targets users inactive at least this long


@dataclass(frozen=True)
class DemoApp:
    name: str
    platform: str
    bundle_id: str
    timezone: str
    currency: str
    countries: dict[str, float]  # country -> share of users


EURO_COUNTRIES = ("DE", "FR", "ES", "IT", "NL")
DEMO_APPS = (
    DemoApp(
        "Demo: Puzzle Quest",
        "ios",
        "com.example.puzzle",
        "America/New_York",
        "USD",
        {"US": 0.6, "DE": 0.12, "FR": 0.1, "ES": 0.08, "IT": 0.06, "NL": 0.04},
    ),
    DemoApp(
        "Demo: Fit Tracker",
        "android",
        "com.example.fit",
        "Europe/Berlin",
        "EUR",
        {"DE": 0.4, "FR": 0.15, "ES": 0.1, "IT": 0.1, "NL": 0.05, "US": 0.2},
    ),
)
USER_AGENTS = {
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "android": "Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP3A.241105.008; wv) Chrome/131.0 Mobile",
}
USD_PER_EUR = 1 / 0.93  # the demo rate of dashboard/data/exchange_rates_demo.csv


def link_keys(platform: str) -> list[tuple[str, str, str, str]]:
    """(source, campaign, ad set, ad) of every tracking link an app of ``platform`` needs."""
    keys = []
    for name, source in SOURCES.items():
        if platform not in source.platforms:
            continue
        for campaign in (*source.campaigns, *((source.retargeting,) if source.retargeting else ())):
            keys += [(name, campaign, f"{campaign}_{adset}", ad) for adset in ADSETS for ad in ADS]
    return [*keys, (FLOODER, FLOODER_CAMPAIGN, f"{FLOODER_CAMPAIGN}_all", "banner")]


@dataclass
class Plan:
    touches: list[dict] = field(default_factory=list)  # bodies of /api/touchpoints items
    events: list[dict] = field(default_factory=list)  # bodies of /api/events items
    spend: dict[tuple, float] = field(default_factory=dict)  # (local date, source, campaign, adset, ad) -> USD

    def costs_csv(self, currency: str) -> str:
        """The spend as the cost import's CSV: meta bills in US dollars, the others in ``currency``."""
        lines = ["date,source,campaign,adset,ad,currency,cost"]
        for (day, source, campaign, adset, ad), usd in sorted(self.spend.items()):
            billed = "USD" if source == "meta" else currency
            amount = usd if billed == "USD" else usd / USD_PER_EUR if billed == "EUR" else None
            if amount is None:
                raise ValueError(f"The demo prices spend in USD and EUR only, not {billed}.")
            lines.append(f"{day},{source},{campaign},{adset},{ad},{billed},{amount:.2f}")
        return "\n".join(lines) + "\n"


class Planner:
    """One app's plan: ``Planner(...).plan(installs)``."""

    def __init__(self, *, app: DemoApp, links: dict[tuple, str], now: dt.datetime, days: int, seed: int):
        self.app, self.links, self.now = app, links, now
        self.random = random.Random(f"{seed}:{app.bundle_id}")  # noqa: S311 - demo data, not secrets
        zone = zoneinfo.ZoneInfo(app.timezone)
        first_day = now.astimezone(zone).date() - dt.timedelta(days=days - 1)
        self.zone = zone
        self.start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        self.flooder_start = now - dt.timedelta(days=FLOODER_START_DAYS)
        self.id_kind = "idfa" if app.platform == "ios" else "gaid"
        self.sources = [name for name, s in SOURCES.items() if app.platform in s.platforms]
        self.plan_ = Plan()
        self.billed: dict[tuple, tuple[float, dt.datetime]] = {}  # link key -> (USD earned, first time)

    # --- identifiers and small draws --------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _lognormal_minutes(self, median: float, sigma: float = 0.9) -> dt.timedelta:
        return dt.timedelta(minutes=self.random.lognormvariate(math.log(median), sigma))

    def _link(self, source: str, campaign: str | None = None) -> tuple[str, str, str, str]:
        if source == FLOODER:
            return FLOODER, FLOODER_CAMPAIGN, f"{FLOODER_CAMPAIGN}_all", "banner"
        campaign = campaign or self.random.choice(SOURCES[source].campaigns)
        return source, campaign, f"{campaign}_{self.random.choice(ADSETS)}", self.random.choice(ADS)

    def _touch(self, kind: str, key: tuple, at: dt.datetime, device: str | None) -> None:
        self.plan_.touches.append(
            {
                "type": kind,
                "link_code": self.links[key],
                "timestamp": at.isoformat(),
                "device_ids": {self.id_kind: device} if device else {},
                "ip": f"198.51.100.{self.random.randint(1, 254)}",
                "user_agent": USER_AGENTS[self.app.platform],
                "site_id": self.random.choice(["feed", "stories", "reels", "search"]),
            }
        )

    def _background(self, key: tuple, around: dt.datetime, clicks: int, impressions: int) -> None:
        """Clicks that do not convert and impressions that are not clicked, near ``around``."""
        for kind, n in (("click", clicks), ("impression", impressions)):
            for _ in range(n):
                at = around + dt.timedelta(minutes=self.random.uniform(-3 * 1440, 3 * 1440))
                self._touch(kind, key, min(at, self.now - dt.timedelta(minutes=1)), None)

    def _spend(self, key: tuple, at: dt.datetime, usd: float) -> None:
        """What the ad earned its network (an install it closed, a retargeting click), billed later."""
        total, since = self.billed.get(key, (0.0, at))
        self.billed[key] = (total + usd, min(since, at))

    def _daily_spend(self) -> None:
        """Each ad's earnings as a daily budget: spread over the days it ran (from its first billable
        touch or install), in proportion to how many installs the app had each day, give or take 20 %."""
        days = (self.now.astimezone(self.zone).date() - self.start.astimezone(self.zone).date()).days + 1
        span = (self.now - self.start).total_seconds()
        first_day = self.start.astimezone(self.zone).date()
        day_weights = []
        for n in range(days):
            # The growth in ``plan``: the share of installs before x of the span is x ** 1.25.
            low, high = n / days, (n + 1) / days
            day_weights.append(high**1.25 - low**1.25)
        for key, (total, since) in sorted(self.billed.items()):
            first = max(0, min(days - 1, int((since - self.start).total_seconds() / span * days)))
            weight = sum(day_weights[first:])
            for n in range(first, days):
                usd = total * day_weights[n] / weight * self.random.uniform(0.8, 1.2)
                self.plan_.spend[(first_day + dt.timedelta(days=n), *key)] = usd

    # --- the plan -----------------------------------------------------------------------------------

    def plan(self, installs: int) -> Plan:
        span = (self.now - dt.timedelta(minutes=30) - self.start).total_seconds()
        for _ in range(installs):
            # More installs lately: the app grows.
            at = self.start + dt.timedelta(seconds=span * self.random.random() ** 0.8)
            self._user(at)
        self._daily_spend()
        return self.plan_

    def _user(self, install_at: dt.datetime) -> None:
        rnd = self.random
        device = self._uuid().upper()
        country = rnd.choices(list(self.app.countries), weights=list(self.app.countries.values()))[0]
        if rnd.random() < ORGANIC_SHARE:
            source = "organic"
            if install_at >= self.flooder_start and rnd.random() < FLOODER_STEALS:
                self._flood(install_at, device)
        else:
            source = self._paid_path(install_at, device)
        base = {
            "device_ids": {self.id_kind: device},
            "platform": self.app.platform,
            "app_version": "3.2.0",
            "user_id": f"user-{device[:12]}",
            "country": country,
            "user_agent": USER_AGENTS[self.app.platform],
        }
        payer = rnd.random() < PAYER_SHARE.get(source, PAYER_SHARE_OTHER)
        currency = "EUR" if country in EURO_COUNTRIES else "USD"
        self._event(base, "install", install_at)
        last = self._active_days(base, install_at, payer, currency, lifetime=self._lifetime())
        if rnd.random() < REINSTALL_SHARE:
            again = last + dt.timedelta(days=rnd.uniform(2, 20))
            if again < self.now - dt.timedelta(hours=1):
                self._event(base, "install", again)
                last = self._active_days(base, again, payer, currency, lifetime=rnd.randint(0, 5))
        if last < self.now - dt.timedelta(days=LAPSE_DAYS + 2) and rnd.random() < REENGAGE_SHARE:
            self._reengage(base, last, device, payer, currency)

    def _paid_path(self, install_at: dt.datetime, device: str) -> str:
        """The touches before a paid install; returns the source of its last touch."""
        rnd = self.random
        if rnd.random() < VIEW_THROUGH_SHARE:
            source = rnd.choice([s for s in VIEW_THROUGH_SOURCES if s in self.sources])
            key = self._link(source)
            self._touch("impression", key, install_at - dt.timedelta(hours=rnd.uniform(0.5, 20)), device)
            self._background(key, install_at, 0, SOURCES[source].impressions_per_click * 3)
            self._spend(key, install_at, SOURCES[source].cpi_usd)
            return source
        closes = [SOURCES[s].closes for s in self.sources]
        opens = [SOURCES[s].opens for s in self.sources]
        closer = rnd.choices(self.sources, weights=closes)[0]
        last_click = install_at - min(self._lognormal_minutes(SOURCES[closer].ctit_minutes), dt.timedelta(days=2))
        path = [(closer, last_click)]
        earliest = install_at - CLICK_LOOKBACK + dt.timedelta(hours=1)
        for _ in range(rnd.choices(EXTRA_CLICKS, weights=EXTRA_CLICK_WEIGHTS)[0]):
            at = earliest + (last_click - earliest) * rnd.random()
            path.append((rnd.choices(self.sources, weights=opens)[0], at))
        for source, at in path:
            key = self._link(source)
            self._touch("click", key, at, device)
            spec = SOURCES[source]
            if rnd.random() < 0.4:
                self._touch("impression", key, at - dt.timedelta(minutes=rnd.uniform(1, 120)), device)
            self._background(key, at, spec.clicks_per_install - 1, spec.clicks_per_install * spec.impressions_per_click)
            if source == closer and at == last_click:
                self._spend(key, install_at, spec.cpi_usd)
        return closer

    def _flood(self, install_at: dt.datetime, device: str) -> None:
        """A flooding click on an organic user's device, long before the install, among many more."""
        key = self._link(FLOODER)
        at = install_at - dt.timedelta(hours=self.random.uniform(1.5, 24 * 6.5))
        self._touch("click", key, at, device)
        self._background(key, at, FLOODER_CLICKS_PER_STOLEN, 0)
        self._spend(key, install_at, FLOODER_CPI_USD)

    def _lifetime(self) -> int:
        """The last day since install on which the user may still be active (0: gone after day 0)."""
        u = self.random.random()
        return 0 if u >= STAY_D1 else int((STAY_D1 / u) ** (1 / STAY_DECAY))

    def _active_days(self, base: dict, since: dt.datetime, payer: bool, currency: str, lifetime: int) -> dt.datetime:
        """Sessions (and a payer's purchases) from ``since`` on; returns the last activity."""
        rnd, last = self.random, since
        for day in range(lifetime + 1):
            if day and rnd.random() >= ACTIVE_WHILE_STAYING:
                continue
            at = since + dt.timedelta(days=day, minutes=rnd.uniform(1, 600) if day else rnd.uniform(1, 5))
            if at >= self.now:
                break
            self._event(base, "session_start", at)
            last = at
            if payer and rnd.random() < BUY_ON_ACTIVE_DAY:
                price = rnd.choices(PRICES, weights=PRICE_WEIGHTS)[0]
                self._event(
                    base,
                    "purchase",
                    at + dt.timedelta(minutes=rnd.uniform(1, 30)),
                    revenue=price,
                    currency=currency,
                    properties={"sku": f"gems_{price}"},
                )
        return last

    def _reengage(self, base: dict, last: dt.datetime, device: str, payer: bool, currency: str) -> None:
        """A retargeting click some time after the user lapsed, then an open and a few more days."""
        rnd = self.random
        click_at = last + dt.timedelta(days=rnd.uniform(LAPSE_DAYS, LAPSE_DAYS + 30))
        if click_at >= self.now - dt.timedelta(hours=2):
            return
        retargeting = [s for s in self.sources if SOURCES[s].retargeting]
        source = rnd.choice(retargeting)
        key = self._link(source, SOURCES[source].retargeting)
        self._touch("click", key, click_at, device)
        self._background(key, click_at, 2, 6)
        self._spend(key, click_at, RETARGETING_CPC_USD * 3)
        opened = click_at + self._lognormal_minutes(20, 0.7)
        self._active_days(base, min(opened, self.now - dt.timedelta(minutes=5)), payer, currency, rnd.randint(0, 6))

    def _event(self, base: dict, name: str, at: dt.datetime, **fields) -> None:
        if at < self.now:
            self.plan_.events.append(
                {**base, "event_id": self._uuid(), "event_name": name, "timestamp": at.isoformat(), **fields}
            )

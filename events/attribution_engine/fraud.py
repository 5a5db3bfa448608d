"""Fraud signals.

* Click injection is a property of one touch: a click less than the app's minimum click-to-install
  time (default 10 s) before the install. The SQL flags it per touch (``sql.matches``).
* Click flooding is a property of a source: it sends very many clicks per install and its installs are
  spread flat over the lookback window instead of clustering shortly after the click. It is decided
  here, per app and period, and handed to the SQL as a list of sources.

The app's fraud policy then decides: ``flag`` keeps the attribution and records the reason,
``reject`` drops flagged touches so the conversion goes to the next touch or becomes organic.
"""

import datetime as dt
from dataclasses import dataclass

from core import clickhouse
from events.attribution_engine import sql
from events.attribution_engine.rules import Rules

# A source floods when all three hold over the period (thresholds from the shape of honest traffic:
# most installs follow their click within an hour; honest networks rarely exceed ~30 clicks per install).
FLOODING_MIN_INSTALLS = 10
FLOODING_MIN_CLICKS_PER_INSTALL = 30
FLOODING_MAX_SHARE_WITHIN_HOUR = 0.15

CLICKS_SQL = """
SELECT media_source, count() AS clicks
FROM touchpoints
WHERE app_id = {app_id:UUID} AND touch_type = 'click'
  AND timestamp >= {since:DateTime64(3, 'UTC')} AND timestamp < {until:DateTime64(3, 'UTC')}
GROUP BY media_source
"""


@dataclass(frozen=True)
class SourceStats:
    media_source: str
    clicks: int
    installs: int
    within_hour: int

    @property
    def clicks_per_install(self) -> float:
        return self.clicks / self.installs if self.installs else float("inf")

    @property
    def share_within_hour(self) -> float:
        return self.within_hour / self.installs if self.installs else 0.0

    @property
    def floods(self) -> bool:
        return (
            self.installs >= FLOODING_MIN_INSTALLS
            and self.clicks_per_install >= FLOODING_MIN_CLICKS_PER_INSTALL
            and self.share_within_hour <= FLOODING_MAX_SHARE_WITHIN_HOUR
        )


def source_stats(*, app_id, rules: Rules, scratch: str, since: dt.datetime, until: dt.datetime) -> list[SourceStats]:
    """Per source, over the conversions of a run's scratch table in [since, until)."""
    params = {
        **sql.parameters(app_id=app_id, rules=rules, since=since, until=until, scratch=scratch),
        "reject_fraud": False,  # what each source would win before any fraud decision
    }
    installs = clickhouse.execute(sql.winners_by_source(), params, tag="attribution_flood_stats")
    clicks = dict(
        clickhouse.execute(
            CLICKS_SQL,
            {"app_id": app_id, "since": since - dt.timedelta(milliseconds=rules.click_lookback_ms), "until": until},
            tag="attribution_flood_clicks",
        ).rows
    )
    return [
        SourceStats(media_source=source, clicks=int(clicks.get(source, 0)), installs=int(n), within_hour=int(early))
        for source, n, early in installs.rows
    ]


def flooding_sources(*, app_id, rules: Rules, scratch: str, since: dt.datetime, until: dt.datetime) -> list[str]:
    stats = source_stats(app_id=app_id, rules=rules, scratch=scratch, since=since, until=until)
    return sorted(s.media_source for s in stats if s.floods)

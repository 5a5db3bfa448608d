"""Every metric a report shows, defined once: its name in the API and CSV, its label, unit and the
one-line definition shown to users, and either its ClickHouse aggregate (a *counted* metric, over the
table named in ``source``) or the two metrics it divides (a *ratio*). The selectors compose their
SQL from ``Metric.sql`` and derive every ratio with ``derive``; the pages take labels and
definitions from here, so a number means the same thing wherever it appears (docs/reports.md).

Installs are the attribution engine's new installs (``NEW_INSTALL_KINDS``: a reinstall inside the
re-attribution window, a re-attribution and a re-engagement are no install); non-organic ones have a
credited path.
"""

from dataclasses import dataclass

from events.attribution_engine import sql

from .aggregates import PERSON

COUNT, MONEY, RATIO = "count", "money", "ratio"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    definition: str
    source: str = ""  # the table its ``sql`` aggregates; empty for a ratio or a metric summed in Python
    sql: str = ""
    ratio: tuple[str, str] | None = None  # (numerator, denominator) metric names


_NEW_INSTALL = f"conversion_kind IN ({sql.NEW_INSTALLS})"


def _distinct(value: str, condition: str = "") -> str:
    """The number of distinct ids (``value``: a hash of ``events_people``, 0 for none) of the rows meeting
    ``condition``: a set of fixed-size keys (``dashboard.aggregates.people_source``)."""
    return f"uniqExactIf({value}, {value} != 0{f' AND {condition}' if condition else ''})"


METRICS = {
    metric.name: metric
    for metric in (
        Metric("totalEvents", "Events", COUNT, "Every event received in the period.", "events", "count()"),
        Metric(
            "activeUsers",
            "Active users",
            COUNT,
            "Distinct users (devices, else user ids) with an event in the period.",
            "events_people",
            _distinct(PERSON),
        ),
        Metric(
            "dau",
            "Daily active users",
            COUNT,
            "Distinct users (devices, else user ids) with an event in the day.",
            "events_people",
            _distinct(PERSON),
        ),
        Metric(
            "identifiedUsers",
            "Identified users",
            COUNT,
            "Distinct user ids (set by the app) with an event in the period.",
            "events_people",
            _distinct("user"),
        ),
        Metric(
            "purchasers",
            "Purchasers",
            COUNT,
            "Distinct user ids (set by the app) with a purchase in the period.",
            "events_people",
            _distinct("user", "purchase"),
        ),
        Metric(
            "installs",
            "Installs",
            COUNT,
            "New installs attributed by the engine, organic and non-organic (reinstalls excluded).",
            "attributions",
            f"countIf({_NEW_INSTALL})",
        ),
        Metric(
            "nonOrganicInstalls",
            "Non-organic installs",
            COUNT,
            "New installs credited to a media source.",
            "attributions",
            f"countIf({_NEW_INSTALL} AND notEmpty(path.touch_id))",
        ),
        Metric(
            "organicInstalls",
            "Organic installs",
            COUNT,
            "New installs with no touch to credit.",
            "attributions",
            f"countIf({_NEW_INSTALL} AND empty(path.touch_id))",
        ),
        Metric(
            "reattributions",
            "Re-attributions",
            COUNT,
            "Reinstalls inside the re-attribution window credited to a retargeting click (not installs).",
            "attributions",
            "countIf(conversion_kind = 'reattribution')",
        ),
        Metric(
            "reengagements",
            "Re-engagements",
            COUNT,
            "Returns after the inactivity window credited to a touch (not installs).",
            "attributions",
            "countIf(conversion_kind = 're_engagement' AND notEmpty(path.touch_id))",
        ),
        Metric(
            "impressions",
            "Impressions",
            COUNT,
            "Ad views recorded in the period.",
            "touches",
            "sumIf(touches, touch_type = 'impression')",
        ),
        Metric(
            "clicks",
            "Clicks",
            COUNT,
            "Ad clicks recorded in the period.",
            "touches",
            "sumIf(touches, touch_type = 'click')",
        ),
        Metric(
            "payingUsers",
            "Paying users",
            COUNT,
            "Installed devices of the period with a purchase since their install.",
        ),
        Metric(
            "revenueAsSent",
            "Revenue as sent",
            MONEY,
            "Purchase revenue summed over every currency sent, unconverted (the seed's stats).",
            "events",
            "sum(revenue)",
        ),
        Metric("revenue", "Revenue", MONEY, "Purchase revenue in the app's currency, at each day's rate."),
        Metric(
            "cost",
            "Cost",
            MONEY,
            "Imported ad spend in the app's currency, at each day's rate; none where none was imported.",
        ),
        Metric(
            "conversionRate",
            "Conversion rate",
            RATIO,
            "Purchasers among identified users.",
            ratio=("purchasers", "identifiedUsers"),
        ),
        Metric("ctr", "CTR", RATIO, "Clicks per impression.", ratio=("clicks", "impressions")),
        Metric(
            "clickToInstallRate",
            "Click to install",
            RATIO,
            "Non-organic installs per click.",
            ratio=("nonOrganicInstalls", "clicks"),
        ),
        Metric(
            "installToPurchaseRate",
            "Install to purchase",
            RATIO,
            "Paying users among installs.",
            ratio=("payingUsers", "installs"),
        ),
        Metric("arpu", "ARPU", MONEY, "Revenue of the installs per install.", ratio=("revenue", "installs")),
        Metric("arppu", "ARPPU", MONEY, "Revenue of the installs per paying user.", ratio=("revenue", "payingUsers")),
        Metric("ecpi", "eCPI", MONEY, "Cost per non-organic install.", ratio=("cost", "nonOrganicInstalls")),
        Metric("roas", "ROAS", RATIO, "Revenue of the installs per unit of cost.", ratio=("revenue", "cost")),
        Metric(
            "devices",
            "Devices",
            COUNT,
            "Devices that reached the funnel step after the steps before it, in order, within the window.",
        ),
        Metric("previousDevices", "Devices at the previous step", COUNT, "Devices that reached the step before."),
        Metric("firstDevices", "Devices at the first step", COUNT, "Devices that did the funnel's first step."),
        Metric(
            "conversionFromPrevious",
            "Conversion from previous step",
            RATIO,
            "Devices reaching the step among those that reached the step before.",
            ratio=("devices", "previousDevices"),
        ),
        Metric(
            "conversionFromFirst",
            "Conversion from first step",
            RATIO,
            "Devices reaching the step among those that reached the first step.",
            ratio=("devices", "firstDevices"),
        ),
    )
}


# The conversions the time series counts per bucket (its installs, organic and not, re-attributions and
# re-engagements), in the order of ``attributed_conversions``' columns.
SERIES_CONVERSIONS = ("installs", "organicInstalls", "nonOrganicInstalls", "reattributions", "reengagements")


def select(*names: str) -> str:
    """The SQL aggregates of these counted metrics, in order, each named as the metric. They must
    aggregate one table: a fragment over another table's columns would fail, or worse, not."""
    tables = {METRICS[name].source for name in names}
    if len(tables) != 1 or "" in tables:
        raise ValueError(f"{', '.join(names)} are not counted over one table ({', '.join(sorted(tables))}).")
    return ", ".join(f"{METRICS[name].sql} AS {name}" for name in names)


def merged(name: str) -> tuple[str, str]:
    """A counted metric's aggregate as a state per group (``-State``) and the function that merges those
    states (``-Merge``): for a count wanted per group and over the groups' union, which distinct counts
    do not add up to."""
    function, arguments = METRICS[name].sql.split("(", 1)
    return f"{function}State({arguments}", f"{function}Merge"


def derive(row: dict, *names: str) -> dict:
    """``row`` with these ratio metrics added; a ratio over zero, or of a value that is None (not
    known), is None: no number rather than a wrong one."""
    out = dict(row)
    for name in names:
        numerator, denominator = (row[part] for part in METRICS[name].ratio)
        known = numerator is not None and denominator is not None and float(denominator) != 0
        out[name] = round(float(numerator) / float(denominator), 6) if known else None
    return out


# Cohort metrics (dashboard/cohorts.py): by attribution date, day n counted in calendar days of the
# app's time zone from the install's day (day 0); a day not yet over for every install is null.
ROAS_DAYS = (0, 7, 30)
RETENTION_DAYS = (1, 7, 30)
METRICS.update(
    (metric.name, metric)
    for metric in (
        Metric(
            "retained",
            "Retained installs",
            COUNT,
            "Installs of the cohort whose device was active (any event) on day or week n after its install.",
        ),
        Metric(
            "retention",
            "Retention",
            RATIO,
            "Share of the cohort's installs active on day or week n after install (day 0: the install day).",
            ratio=("retained", "installs"),
        ),
        Metric(
            "cumulativeRevenue",
            "Cumulative revenue",
            MONEY,
            "Revenue of the cohort's installs from their install day up to day n, at each day's rate.",
        ),
        Metric(
            "ltv",
            "LTV",
            MONEY,
            "Cumulative revenue up to day n after install per install of the cohort.",
            ratio=("cumulativeRevenue", "installs"),
        ),
        *(
            metric
            for n in ROAS_DAYS
            for metric in (
                Metric(
                    f"revenueD{n}",
                    f"Revenue D{n}",
                    MONEY,
                    f"Revenue of the installs from their install day up to day {n} after it.",
                ),
                Metric(
                    f"roasD{n}",
                    f"ROAS D{n}",
                    RATIO,
                    f"Revenue of the installs up to day {n} after install per unit of cost.",
                    ratio=(f"revenueD{n}", "cost"),
                ),
            )
        ),
        *(
            metric
            for n in RETENTION_DAYS
            for metric in (
                Metric(f"retainedD{n}", f"Retained D{n}", COUNT, f"Installs active on day {n} after install."),
                Metric(
                    f"retentionD{n}",
                    f"Retention D{n}",
                    RATIO,
                    f"Share of the installs active on day {n} after install (day 0: the install day).",
                    ratio=(f"retainedD{n}", "installs"),
                ),
            )
        ),
    )
)

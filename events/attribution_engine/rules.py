"""An app's attribution rules in the units the SQL uses, and the vocabulary of results.

Windows are absolute durations (hours and days of 3600 s and 86 400 s), so a lookback that crosses a
daylight-saving change in the app's timezone is still exactly its length; the timezone only decides
the local date a conversion is reported under. Every window is inclusive: a touch exactly one window
before the conversion counts, one millisecond more does not.
"""

from dataclasses import dataclass

from apps_registry.models import App, AttributionSettings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

MODELS = ("last_touch", "first_touch", "linear", "time_decay", "position_based", "data_driven")

# The waterfall, best first. A conversion is credited to touches of the best tier it matched.
TIERS = {
    1: "click_id",
    2: "device_click",
    3: "probabilistic_click",
    4: "device_impression",
    5: "probabilistic_impression",
}
ORGANIC = "organic"
REINSTALL = "reinstall"
# How sure a match of that tier is that the touch belongs to this device.
CONFIDENCE = {1: 1.0, 2: 1.0, 3: 0.6, 4: 1.0, 5: 0.4}

CONVERSION_EVENTS = ("install", "first_open")
# Conversion kinds, as AppsFlyer names them: ``install`` (a new install: the device's first, or one after
# the re-attribution window), ``reinstall`` (inside that window, unattributed), ``reattribution`` (a
# reinstall credited to a retargeting click) and ``re_engagement`` (an open after inactivity, credited
# to a retargeting click). Only new installs count as installs in reports.
NEW_INSTALL_KINDS = ("install",)
# The conversions credited to a retargeting touch: in-app revenue of the device during their
# re-engagement window is theirs.
RETARGETING_KINDS = ("reattribution", "re_engagement")
REENGAGEMENT_EVENTS = ("open", "session_start")


@dataclass(frozen=True)
class Rules:
    settings_version: int
    click_lookback_ms: int
    view_through_ms: int
    probabilistic: bool
    probabilistic_click_ms: int
    probabilistic_view_ms: int
    user_id_fallback: bool
    reattribution_ms: int
    inactivity_ms: int
    reengagement_window_ms: int
    half_life_ms: int
    min_ctit_ms: int
    reject_fraud: bool
    timezone: str

    @classmethod
    def of(cls, app: App, version: AttributionSettings) -> "Rules":
        probabilistic_ms = version.probabilistic_window_hours * HOUR_MS
        return cls(
            settings_version=version.version,
            click_lookback_ms=version.click_lookback_hours * HOUR_MS,
            view_through_ms=version.view_through_hours * HOUR_MS,
            probabilistic=version.probabilistic_enabled,
            # A probabilistic match never reaches further back than the deterministic one of its kind.
            probabilistic_click_ms=min(probabilistic_ms, version.click_lookback_hours * HOUR_MS),
            probabilistic_view_ms=min(probabilistic_ms, version.view_through_hours * HOUR_MS),
            user_id_fallback=version.user_id_fallback,
            reattribution_ms=version.reattribution_window_days * DAY_MS,
            inactivity_ms=version.reengagement_inactivity_days * DAY_MS,
            reengagement_window_ms=version.reengagement_window_days * DAY_MS,
            half_life_ms=version.time_decay_half_life_days * DAY_MS,
            min_ctit_ms=version.fraud_min_ctit_seconds * 1000,
            reject_fraud=version.fraud_policy == AttributionSettings.FraudPolicy.REJECT,
            timezone=app.timezone,
        )

    @property
    def touch_lookback_ms(self) -> int:
        return max(self.click_lookback_ms, self.view_through_ms)

    @property
    def history_ms(self) -> int:
        """How far before a conversion its device's latest activity is read: the inactivity window, or
        the touch lookback when longer (a touch before the latest activity never credits a
        re-engagement). Older activity decides nothing; earlier installs are read however old."""
        return max(self.inactivity_ms, self.touch_lookback_ms)

    def parameters(self) -> dict:
        return {
            "settings_version": self.settings_version,
            "click_ms": self.click_lookback_ms,
            "view_ms": self.view_through_ms,
            "probabilistic": self.probabilistic,
            "probabilistic_click_ms": self.probabilistic_click_ms,
            "probabilistic_view_ms": self.probabilistic_view_ms,
            "user_id_fallback": self.user_id_fallback,
            "reattribution_ms": self.reattribution_ms,
            "inactivity_ms": self.inactivity_ms,
            "reengagement_window_ms": self.reengagement_window_ms,
            "half_life_ms": float(self.half_life_ms),
            "min_ctit_ms": self.min_ctit_ms,
            "reject_fraud": self.reject_fraud,
            "timezone": self.timezone,
        }

    def describe(self) -> dict:
        """The windows as a person reads them (for explanations)."""
        return {
            "settingsVersion": self.settings_version,
            "clickLookbackHours": self.click_lookback_ms // HOUR_MS,
            "viewThroughHours": self.view_through_ms // HOUR_MS,
            "probabilisticEnabled": self.probabilistic,
            "probabilisticClickHours": self.probabilistic_click_ms // HOUR_MS,
            "probabilisticViewHours": self.probabilistic_view_ms // HOUR_MS,
            "userIdFallback": self.user_id_fallback,
            "reattributionDays": self.reattribution_ms // DAY_MS,
            "reengagementInactivityDays": self.inactivity_ms // DAY_MS,
            "reengagementWindowDays": self.reengagement_window_ms // DAY_MS,
            "timeDecayHalfLifeDays": self.half_life_ms // DAY_MS,
            "fraudMinCtitSeconds": self.min_ctit_ms // 1000,
            "fraudPolicy": "reject" if self.reject_fraud else "flag",
            "timezone": self.timezone,
        }

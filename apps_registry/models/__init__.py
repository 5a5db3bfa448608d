from .ad_spend import AdSpend
from .api_key import ApiKey
from .app import App, AppGroupObjectPermission, AppPlatform, AppUserObjectPermission
from .attribution_settings import AttributionSettings
from .tracking_link import TrackingLink

__all__ = [
    "AdSpend",
    "ApiKey",
    "App",
    "AppGroupObjectPermission",
    "AppPlatform",
    "AppUserObjectPermission",
    "AttributionSettings",
    "TrackingLink",
]

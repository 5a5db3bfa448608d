from django.urls import path

from .apis import cohorts, explorer, exports, funnels, reports, seed

dashboard_urls = [path("stats", seed.DashboardStatsApi.as_view(), name="dashboard-stats")]
analytics_urls = [
    path("events", seed.AnalyticsEventsApi.as_view(), name="analytics-events"),
    path("attribution", seed.AnalyticsAttributionApi.as_view(), name="analytics-attribution"),
    path("overview", reports.AnalyticsOverviewApi.as_view(), name="analytics-overview"),
    path("series", reports.AnalyticsSeriesApi.as_view(), name="analytics-series"),
    path("campaigns", reports.AnalyticsCampaignsApi.as_view(), name="analytics-campaigns"),
    path("models", reports.AnalyticsModelsApi.as_view(), name="analytics-models"),
    path("fraud", reports.AnalyticsFraudApi.as_view(), name="analytics-fraud"),
    path("click-to-install", reports.AnalyticsClickToInstallApi.as_view(), name="analytics-click-to-install"),
    path("cohorts", cohorts.AnalyticsCohortsApi.as_view(), name="analytics-cohorts"),
    path("ltv", cohorts.AnalyticsLtvApi.as_view(), name="analytics-ltv"),
    path("funnel", funnels.AnalyticsFunnelApi.as_view(), name="analytics-funnel"),
    path("explorer", explorer.AnalyticsExplorerApi.as_view(), name="analytics-explorer"),
    # Every report's CSV, one route per entry of the registry.
    *(path(f"{name}.csv", exports.csv_api(name).as_view(), name=f"analytics-{name}-csv") for name in exports.REPORTS),
]
# Under /api/apps/: why one conversion was attributed as it was.
conversion_urls = [
    path(
        "<str:app_id>/conversions/<uuid:event_id>/attribution",
        seed.ConversionAttributionApi.as_view(),
        name="app-conversion-attribution",
    ),
]

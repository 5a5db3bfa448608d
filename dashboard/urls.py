from django.urls import path

from .apis import explorer, funnels, reports, seed

dashboard_urls = [path("stats", seed.DashboardStatsApi.as_view(), name="dashboard-stats")]
analytics_urls = [
    path("events", seed.AnalyticsEventsApi.as_view(), name="analytics-events"),
    path("attribution", seed.AnalyticsAttributionApi.as_view(), name="analytics-attribution"),
    path("overview", reports.AnalyticsOverviewApi.as_view(), name="analytics-overview"),
    path("series", reports.AnalyticsSeriesApi.as_view(), name="analytics-series"),
    path("series.csv", reports.AnalyticsSeriesCsvApi.as_view(), name="analytics-series-csv"),
    path("campaigns", reports.AnalyticsCampaignsApi.as_view(), name="analytics-campaigns"),
    path("campaigns.csv", reports.AnalyticsCampaignsCsvApi.as_view(), name="analytics-campaigns-csv"),
    path("models", reports.AnalyticsModelsApi.as_view(), name="analytics-models"),
    path("models.csv", reports.AnalyticsModelsCsvApi.as_view(), name="analytics-models-csv"),
    path("fraud", reports.AnalyticsFraudApi.as_view(), name="analytics-fraud"),
    path("fraud.csv", reports.AnalyticsFraudCsvApi.as_view(), name="analytics-fraud-csv"),
    path("click-to-install", reports.AnalyticsClickToInstallApi.as_view(), name="analytics-click-to-install"),
    path(
        "click-to-install.csv", reports.AnalyticsClickToInstallCsvApi.as_view(), name="analytics-click-to-install-csv"
    ),
    path("funnel", funnels.AnalyticsFunnelApi.as_view(), name="analytics-funnel"),
    path("funnel.csv", funnels.AnalyticsFunnelCsvApi.as_view(), name="analytics-funnel-csv"),
    path("explorer", explorer.AnalyticsExplorerApi.as_view(), name="analytics-explorer"),
]
# Under /api/apps/: why one conversion was attributed as it was.
conversion_urls = [
    path(
        "<str:app_id>/conversions/<uuid:event_id>/attribution",
        seed.ConversionAttributionApi.as_view(),
        name="app-conversion-attribution",
    ),
]

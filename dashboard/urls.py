from django.urls import path

from . import apis

dashboard_urls = [path("stats", apis.DashboardStatsApi.as_view(), name="dashboard-stats")]
analytics_urls = [
    path("events", apis.AnalyticsEventsApi.as_view(), name="analytics-events"),
    path("attribution", apis.AnalyticsAttributionApi.as_view(), name="analytics-attribution"),
    path("overview", apis.AnalyticsOverviewApi.as_view(), name="analytics-overview"),
    path("series", apis.AnalyticsSeriesApi.as_view(), name="analytics-series"),
    path("series.csv", apis.AnalyticsSeriesCsvApi.as_view(), name="analytics-series-csv"),
    path("campaigns", apis.AnalyticsCampaignsApi.as_view(), name="analytics-campaigns"),
    path("campaigns.csv", apis.AnalyticsCampaignsCsvApi.as_view(), name="analytics-campaigns-csv"),
    path("models", apis.AnalyticsModelsApi.as_view(), name="analytics-models"),
    path("models.csv", apis.AnalyticsModelsCsvApi.as_view(), name="analytics-models-csv"),
    path("fraud", apis.AnalyticsFraudApi.as_view(), name="analytics-fraud"),
    path("fraud.csv", apis.AnalyticsFraudCsvApi.as_view(), name="analytics-fraud-csv"),
    path("click-to-install", apis.AnalyticsClickToInstallApi.as_view(), name="analytics-click-to-install"),
    path("click-to-install.csv", apis.AnalyticsClickToInstallCsvApi.as_view(), name="analytics-click-to-install-csv"),
]
# Under /api/apps/: why one conversion was attributed as it was.
conversion_urls = [
    path(
        "<str:app_id>/conversions/<uuid:event_id>/attribution",
        apis.ConversionAttributionApi.as_view(),
        name="app-conversion-attribution",
    ),
]

from django.urls import path

from .apis import cohorts, reports, seed

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
    path("cohorts", cohorts.AnalyticsCohortsApi.as_view(), name="analytics-cohorts"),
    path("cohorts.csv", cohorts.AnalyticsCohortsCsvApi.as_view(), name="analytics-cohorts-csv"),
    path("ltv", cohorts.AnalyticsLtvApi.as_view(), name="analytics-ltv"),
    path("ltv.csv", cohorts.AnalyticsLtvCsvApi.as_view(), name="analytics-ltv-csv"),
]
# Under /api/apps/: why one conversion was attributed as it was.
conversion_urls = [
    path(
        "<str:app_id>/conversions/<uuid:event_id>/attribution",
        seed.ConversionAttributionApi.as_view(),
        name="app-conversion-attribution",
    ),
]

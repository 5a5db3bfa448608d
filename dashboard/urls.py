from django.urls import path

from . import apis

dashboard_urls = [path("stats", apis.DashboardStatsApi.as_view(), name="dashboard-stats")]
analytics_urls = [
    path("events", apis.AnalyticsEventsApi.as_view(), name="analytics-events"),
    path("attribution", apis.AnalyticsAttributionApi.as_view(), name="analytics-attribution"),
]

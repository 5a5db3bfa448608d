from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts.urls import admin_urls, auth_urls
from attribution import health
from attribution.errors import page_not_found
from dashboard.urls import analytics_urls, dashboard_urls
from events import views as ingestion

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/events", ingestion.events, name="ingest-events"),
    path("api/touchpoints", ingestion.touchpoints_s2s, name="ingest-touchpoints"),
    path("c/<str:code>", ingestion.click, name="click"),
    path("i/<str:code>", ingestion.impression, name="impression"),
    path("api/auth/", include(auth_urls)),
    path("api/admin/", include(admin_urls)),
    path("api/apps/", include("apps_registry.urls")),
    path("api/dashboard/", include(dashboard_urls)),
    path("api/analytics/", include(analytics_urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]

handler404 = page_not_found

if settings.BENCHMARK_ENDPOINTS:
    from events.benchmarks import views as bare

    urlpatterns += [path("bench/parse", bare.bare_parse), path("bench/redirect/<str:code>", bare.bare_redirect)]

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts.urls import admin_urls, auth_urls, page_urls
from apps_registry.views import home
from attribution import health
from core.errors import bad_request, page_not_found
from dashboard.urls import analytics_urls, conversion_urls, dashboard_urls

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("", include("events.ingestion.urls")),
    path("api/auth/", include(auth_urls)),
    path("api/admin/", include(admin_urls)),
    path("api/admin/", include("events.subjects.urls")),
    path("api/apps/", include("apps_registry.urls")),
    path("api/apps/", include(conversion_urls)),
    path("api/dashboard/", include(dashboard_urls)),
    path("api/analytics/", include(analytics_urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
    path("metrics", health.scrape, name="metrics"),
    # The web app's pages: sign-in, the app picker, and each app's pages under /apps/<app id>/.
    path("", home, name="home"),
    path("", include(page_urls)),
    path("apps/", include("apps_registry.page_urls")),
    path("apps/", include("dashboard.page_urls")),
]

handler400 = bad_request
handler404 = page_not_found

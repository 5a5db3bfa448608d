from django.urls import path

from . import views
from .segment.spec import SHORT_PATHS

urlpatterns = [
    path("api/events", views.events, name="ingest-events"),
    path("api/touchpoints", views.touchpoints_s2s, name="ingest-touchpoints"),
    path("c/<str:code>", views.click, name="click"),
    path("i/<str:code>", views.impression, name="impression"),
    path("v1/projects/<str:write_key>/settings", views.segment_settings, name="segment-settings"),
    *(
        path(f"v1/{name}", views.segment_messages, {"kind": kind}, name=f"segment-{name}")
        for kind, short in SHORT_PATHS.items()
        for name in (kind, short)
    ),
]

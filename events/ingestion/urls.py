from django.urls import path

from . import views

urlpatterns = [
    path("api/events", views.events, name="ingest-events"),
    path("api/touchpoints", views.touchpoints_s2s, name="ingest-touchpoints"),
    path("c/<str:code>", views.click, name="click"),
    path("i/<str:code>", views.impression, name="impression"),
]

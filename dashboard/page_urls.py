"""The report pages of an app, under /apps/<app id>/."""

from django.urls import path

from . import views

urlpatterns = [
    path("<str:app_id>/overview", views.overview, name="overview"),
    path("<str:app_id>/campaigns", views.campaigns, name="campaigns"),
    path("<str:app_id>/models", views.models, name="models"),
    path("<str:app_id>/fraud", views.fraud, name="fraud"),
    *(path(f"<str:app_id>/{report}", views.report_to_come(report), name=report) for report in views.REPORTS_TO_COME),
    path("<str:app_id>/conversions", views.conversion, name="conversion"),
    path("<str:app_id>/live", views.live, name="live-events"),
]

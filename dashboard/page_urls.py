"""The report pages of an app, under /apps/<app id>/."""

from django.urls import path

from . import views

urlpatterns = [
    path("<str:app_id>/overview", views.overview, name="overview"),
    path("<str:app_id>/campaigns", views.campaigns, name="campaigns"),
    path("<str:app_id>/models", views.models, name="models"),
    path("<str:app_id>/fraud", views.fraud, name="fraud"),
    path("<str:app_id>/cohorts", views.cohort_report, name="cohorts"),
    path("<str:app_id>/funnels", views.funnel, name="funnels"),
    path("<str:app_id>/conversions", views.conversion, name="conversion"),
    path("<str:app_id>/live", views.live, name="live-events"),
]

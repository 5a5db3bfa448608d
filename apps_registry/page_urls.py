"""The pages of an app's configuration, under /apps/<app id>/, and the app picker."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.app_picker, name="app-picker"),
    path("<str:app_id>/", views.app_home, name="app-home"),
    path("<str:app_id>/links", views.link_list, name="links"),
    path("<str:app_id>/links/new", views.link_create, name="link-new"),
    path("<str:app_id>/costs", views.cost_list, name="costs"),
    path("<str:app_id>/costs/upload", views.cost_upload, name="costs-upload"),
    path("<str:app_id>/settings", views.attribution_settings, name="attribution-settings"),
    path("<str:app_id>/settings/edit", views.attribution_settings_edit, name="attribution-settings-edit"),
]

from django.urls import path

from . import apis

urlpatterns = [
    path("", apis.AppListApi.as_view(), name="app-list"),
    path("create", apis.AppCreateApi.as_view(), name="app-create"),
    path("<str:app_id>", apis.AppDetailApi.as_view(), name="app-detail"),
]

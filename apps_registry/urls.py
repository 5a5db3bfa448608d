from django.urls import path

from . import apis

urlpatterns = [
    path("", apis.AppListApi.as_view(), name="app-list"),
    path("create", apis.AppCreateApi.as_view(), name="app-create"),
    path("<str:app_id>", apis.AppDetailApi.as_view(), name="app-detail"),
    path("<str:app_id>/keys", apis.KeyListApi.as_view(), name="app-keys"),
    path("<str:app_id>/keys/<uuid:key_id>/revoke", apis.KeyRevokeApi.as_view(), name="app-key-revoke"),
    path("<str:app_id>/keys/<uuid:key_id>/rotate", apis.KeyRotateApi.as_view(), name="app-key-rotate"),
    path("<str:app_id>/signing-secret/rotate", apis.SigningSecretRotateApi.as_view(), name="app-signing-rotate"),
    path("<str:app_id>/settings", apis.SettingsApi.as_view(), name="app-settings"),
    path("<str:app_id>/settings/history", apis.SettingsHistoryApi.as_view(), name="app-settings-history"),
    path("<str:app_id>/links", apis.LinkListApi.as_view(), name="app-links"),
    path("<str:app_id>/links/<uuid:link_id>", apis.LinkDetailApi.as_view(), name="app-link"),
    path("<str:app_id>/costs", apis.CostsApi.as_view(), name="app-costs"),
]

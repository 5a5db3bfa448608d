from django.urls import path

from . import apis, views

auth_urls = [
    path("login", apis.LoginApi.as_view(), name="auth-login"),
    path("register", apis.RegisterApi.as_view(), name="auth-register"),
    path("refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me", apis.MeApi.as_view(), name="auth-me"),
]

admin_urls = [
    path("users", apis.AdminUserListApi.as_view(), name="admin-users"),
    path("users/<uuid:user_id>/roles", apis.AdminUserRolesApi.as_view(), name="admin-user-roles"),
    path("users/<uuid:user_id>/roles/<str:role>", apis.AdminUserRoleApi.as_view(), name="admin-user-role"),
    path("users/<uuid:user_id>/apps/<uuid:app_id>", apis.AdminUserAppAccessApi.as_view(), name="admin-user-app"),
    path("users/<uuid:user_id>/unlock", apis.AdminUserUnlockApi.as_view(), name="admin-user-unlock"),
    path("invitations", apis.AdminInvitationApi.as_view(), name="admin-invitations"),
    path("security-events", apis.AdminSecurityEventListApi.as_view(), name="admin-security-events"),
]

page_urls = [
    path("sign-in", views.sign_in, name="sign-in"),
    path("sign-out", views.sign_out, name="sign-out"),
]

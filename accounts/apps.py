from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self):
        from auditlog.registry import auditlog
        from django.contrib.auth.models import Group

        from .models import User
        from .rbac import signals  # noqa: F401 - connects the authorization and audit signal handlers

        auditlog.register(User, exclude_fields=["password", "last_login"], m2m_fields={"groups", "user_permissions"})
        auditlog.register(Group, m2m_fields={"permissions"})

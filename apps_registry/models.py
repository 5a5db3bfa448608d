import uuid

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class App(models.Model):
    """An app (or website) whose marketing is measured. Per-app access is granted on this object."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        ARCHIVED = "archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_apps")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_analytics", "Can read this app's analytics"),
            ("manage_keys", "Can create, rotate and revoke this app's API keys"),
        ]

    def __str__(self):
        return self.name


class AppUserObjectPermission(UserObjectPermissionBase):
    """A user's grant on one app (direct foreign key: typed, indexed, deleted with the app)."""

    content_object = models.ForeignKey(App, on_delete=models.CASCADE)


class AppGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(App, on_delete=models.CASCADE)

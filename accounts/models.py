import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: marketers, analysts and admins. The email address is the login."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email


class Capability(models.Model):
    """Holds the seed's global permissions (``apps:read``...); no rows, only permissions."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("apps_read", "apps:read — list and read the apps one has access to"),
            ("apps_write", "apps:write — create apps"),
            ("analytics_read", "analytics:read — read analytics"),
            ("analytics_write", "analytics:write — change analytics configuration"),
            ("dashboard_read", "dashboard:read — read dashboards"),
            ("admin_all", "admin:* — administer users, roles and access"),
        ]

    def __str__(self):
        return "capability"


class TokenFamily(models.Model):
    """All refresh tokens that descend from one login. Revoking the family ends every one of them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "token families"

    def __str__(self):
        return f"{self.user_id}:{self.id}"


class AccessVersion(models.Model):
    """How often a user's roles, permissions or grants have changed. ``authz.invalidate`` bumps it in
    the transaction that makes the change, and snapshots are cached under the version they were read
    at, so a change made in any process leaves every process's cached snapshot behind at its commit.

    ``user_id`` is no foreign key: the grants of a user being deleted bump it on their way out, and a
    row pointing at the deleted user would then fail the delete's commit."""

    user_id = models.UUIDField(primary_key=True)
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.user_id}:{self.version}"


class Invitation(models.Model):
    """An invitation to register (registration policy ``invite``). The token is stored hashed."""

    email = models.EmailField()
    role = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.email} as {self.role}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Security events are append-only.")

    def delete(self):
        raise PermissionError("Security events are append-only.")


class SecurityEvent(models.Model):
    """The security log: append-only, never holds a password, token or key."""

    class Action(models.TextChoices):
        LOGIN_OK = "login_ok"
        LOGIN_FAILED = "login_failed"
        LOCKOUT = "lockout"
        UNLOCK = "unlock"
        TOKEN_REFRESH = "token_refresh"  # noqa: S105 - an action name, not a secret
        REFRESH_REUSE = "refresh_reuse"
        LOGOUT = "logout"
        PERMISSION_DENIED = "permission_denied"
        ROLE_GRANTED = "role_granted"
        ROLE_REVOKED = "role_revoked"
        APP_ACCESS_GRANTED = "app_access_granted"
        APP_ACCESS_REVOKED = "app_access_revoked"
        REGISTERED = "registered"
        INVITATION_CREATED = "invitation_created"
        SUBJECT_EXPORT = "subject_export"
        SUBJECT_ERASURE = "subject_erasure"
        OPT_OUT_ADDED = "opt_out_added"
        OPT_OUT_REMOVED = "opt_out_removed"

    id = models.BigAutoField(primary_key=True)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    user_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    resource = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    success = models.BooleanField()
    metadata = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.action} {self.user_email or '-'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Security events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Security events are append-only.")

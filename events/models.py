import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class RowIdField(models.BigAutoField):
    """A BigAutoField that is SQLite's plain rowid, without AUTOINCREMENT: that keyword makes every
    insert update ``sqlite_sequence`` too, one more page written per commit. The price is that ids
    of deleted rows above the highest remaining one are handed out again, which the outbox allows:
    nothing keeps a message's id after the message is gone (an insert's deduplication token comes from
    the rows it holds). Other databases are unchanged."""

    def db_type_suffix(self, connection):
        return None if connection.vendor == "sqlite" else super().db_type_suffix(connection)


class OutboxMessage(models.Model):
    """A message on the embedded event bus: durable once its transaction commits.

    A consumer leases a batch (``lease_owner``/``leased_until``), writes it downstream, then deletes it.
    A consumer that dies before deleting loses its lease when it expires, and the rows are delivered again.
    """

    id = RowIdField(primary_key=True)
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200, blank=True)
    payload = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["topic", "id"], name="outbox_topic_id")]

    def __str__(self):
        return f"{self.topic}#{self.pk}"


class AttributionRun(models.Model):
    """One run of the attribution engine over a window of conversions: what it covered, with which
    settings version, what it decided about the period (flooding sources, data-driven weights).

    The newest finished ``follow`` run of an app is the continuous run's cursor (``window_end``)."""

    class Mode(models.TextChoices):
        FOLLOW = "follow", "Continuous, by arrival"
        WINDOW = "window", "A window of conversion times"
        RECOMPUTE = "recompute", "History recomputed with the current settings"

    app = models.ForeignKey("apps_registry.App", on_delete=models.CASCADE, related_name="attribution_runs")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    settings_version = models.PositiveIntegerField()
    conversions = models.PositiveBigIntegerField(default=0)
    flooding_sources = models.JSONField(default=list)
    data_driven_weights = models.JSONField(default=dict)
    decided_at = models.DateTimeField(default=timezone.now, help_text="When the period decisions were computed.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["app", "mode", "-window_end"], name="attribution_run_cursor")]

    def __str__(self):
        return f"{self.app_id} {self.mode} {self.window_start:%Y-%m-%d %H:%M}..{self.window_end:%Y-%m-%d %H:%M}"


class SubjectKind(models.TextChoices):
    """How a data subject is known: a user id, or a device id of one kind (events.personal_data)."""

    USER = "user", "User id"
    IDFA = "idfa", "IDFA"
    GAID = "gaid", "GAID"
    IDFV = "idfv", "IDFV"
    ANDROID_ID = "android_id", "Android id"
    WEB_ID = "web_id", "Web id"


class OptOut(models.Model):
    """A data subject of an app who opted out: ingestion drops their events and touchpoints at the
    edge, and the consumer any still on the bus. Only the pseudonym is kept (events.privacy)."""

    app = models.ForeignKey("apps_registry.App", on_delete=models.CASCADE, related_name="opt_outs")
    kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    pseudonym = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "kind", "pseudonym"], name="one_opt_out_per_subject")]
        verbose_name = "opt-out"

    def __str__(self):
        return f"{self.kind} {self.pseudonym}"


class SubjectRequest(models.Model):
    """A data-subject request (export or erasure) and its outcome: the record that it was done, and
    what every store held before and after. Holds the subject's pseudonym, never the identifier."""

    class Action(models.TextChoices):
        EXPORT = "export"
        ERASURE = "erasure"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done", "Done: verified"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("apps_registry.App", on_delete=models.PROTECT, related_name="subject_requests")
    action = models.CharField(max_length=16, choices=Action.choices)
    kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    pseudonym = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.JSONField(
        default=dict, blank=True, help_text="Per store: rows found, and for an erasure rows left when verified."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="subject_request_queue"),
            models.Index(fields=["app", "action", "requested_at"], name="subject_request_app"),
        ]

    def __str__(self):
        return f"{self.action} of {self.kind} {self.pseudonym} ({self.status})"

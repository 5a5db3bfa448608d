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

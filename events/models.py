from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A message on the embedded event bus: durable once its transaction commits.

    A consumer leases a batch (``lease_owner``/``leased_until``), writes it downstream, then deletes it.
    A consumer that dies before deleting loses its lease when it expires, and the rows are delivered again.
    """

    id = models.BigAutoField(primary_key=True)
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

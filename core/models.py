from django.db import models


class CommandRun(models.Model):
    """A management command handed to the process that owns the embedded ClickHouse store (the web
    server, in the embedded default), run there by its background jobs and followed by the process that
    submitted it (``core.command_runs``)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ABANDONED = "abandoned", "Abandoned: nobody took it"

    command = models.CharField(max_length=100)
    arguments = models.JSONField(default=list)
    tty = models.BooleanField(default=False, help_text="Whether the submitter shows output on a terminal.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "id"], name="command_run_status")]

    def __str__(self):
        return f"{self.command} {' '.join(self.arguments)} ({self.status})"

"""The security-event log (append-only) and the alerts on suspicious bursts.

Never pass a password, token or API key: ``metadata`` keys that look like secrets are refused.
"""

import logging

from django.conf import settings
from django.db import connection, transaction

from core import counters
from core.metrics import AUTH_FAILURES, SECURITY_ALERTS, SECURITY_EVENTS
from core.net import client_ip, user_agent

from .context import current_request
from .models import SecurityEvent

logger = logging.getLogger("unmogrowp.security")


_SECRET_WORDS = ("password", "token", "secret", "api_key", "apikey", "authorization")
_BURST_WINDOW_SECONDS = 60


def _check_metadata(metadata: dict) -> dict:
    for key in metadata:
        if any(word in key.lower() for word in _SECRET_WORDS):
            raise ValueError(f"Security events never hold secrets; refusing metadata key {key!r}.")
    return metadata


def record(
    action: str,
    *,
    success: bool,
    user=None,
    email: str = "",
    resource: str = "",
    metadata: dict | None = None,
    request=None,
) -> SecurityEvent:
    request = request or current_request.get()
    actor = getattr(request, "user", None) if request is not None else None
    meta = _check_metadata(dict(metadata or {}))
    if actor is not None and actor.is_authenticated and user is not None and actor.pk != user.pk:
        meta.setdefault("actor", actor.email)
    event = SecurityEvent.objects.create(
        action=action,
        success=success,
        user_id=user.pk if user is not None else None,
        user_email=(user.email if user is not None else email)[:254],
        resource=resource[:255],
        ip=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        metadata=meta,
    )
    SECURITY_EVENTS.labels(action, str(success).lower()).inc()
    return event


def _burst(kind: str, subject: str) -> None:
    """Count one suspicious occurrence; the one that reaches the threshold raises the alert."""
    key = f"security:burst:{kind}:{subject}"
    try:
        (count,), _ = counters.hit([(key, _BURST_WINDOW_SECONDS)])
    except Exception as error:  # the event itself is recorded; only the burst detector is blind
        SECURITY_ALERTS.labels("detector_unavailable").inc()
        logger.error("security burst detector unavailable (cache): %s", error)
        return
    if count == settings.SECURITY_ALERT_BURST:
        SECURITY_ALERTS.labels(kind).inc()
        logger.warning("security alert: %s burst: %d in %ds for %s", kind, count, _BURST_WINDOW_SECONDS, subject)


def login_failed(*, email: str, request, reason: str, door: str, user=None) -> None:
    record(
        SecurityEvent.Action.LOGIN_FAILED,
        success=False,
        user=user,
        email=email,
        metadata={"reason": reason, "door": door},
        request=request,
    )
    AUTH_FAILURES.labels("login").inc()
    _burst("login_failures_ip", client_ip(request) or "unknown")
    _burst("login_failures_account", email)


def permission_denied(*, request, resource: str, reason: str) -> None:
    user = request.user if request.user.is_authenticated else None
    record(
        SecurityEvent.Action.PERMISSION_DENIED,
        success=False,
        user=user,
        resource=resource,
        metadata={"reason": reason},
        request=request,
    )
    _burst("denials_user", user.email if user else client_ip(request) or "unknown")


# --- retention: the one way rows leave the security log -------------------------------------------------


def security_events_expiring(*, before) -> int:
    return SecurityEvent.objects.filter(timestamp__lt=before).count()


def security_events_expire(*, before) -> int:
    """Delete the security events older than ``before`` (retention); returns how many. The log is
    append-only otherwise: the model refuses deletes, and on PostgreSQL a trigger lets a delete
    through only for rows older than the cutoff this transaction declares."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('unmogrowp.retention_cutoff', %s, true)", [before.isoformat()])
        table, column = (connection.ops.quote_name(name) for name in (SecurityEvent._meta.db_table, "timestamp"))
        cursor.execute(f"DELETE FROM {table} WHERE {column} < %s", [before])
        return cursor.rowcount

"""Data-subject requests and opt-outs.

An export is answered at once (reads only). An erasure is recorded as pending and run by the
``subject_requests`` job (the web process's background thread in the embedded default,
``manage.py process_subject_requests --follow`` otherwise), because mutations can take minutes:

1. the request is marked running: from then on the consumer drops the subject's rows received
   before that moment (the tombstone: messages already in Kafka cannot be edited);
2. the subject's rows are taken out of the embedded bus's pending messages;
3. every table of ``events.personal_data`` is mutated (ALTER TABLE ... DELETE, waited for);
4. every store is queried again. A consumer whose list was older than the request may have stored
   rows meanwhile: after OPT_OUT_CACHE_SECONDS every process knows the tombstone, and the deletion is
   run once more. The request is done when every count is 0, failed otherwise, with the counts;
5. the erasure is noted as activity of every time (``stores.note_erased``): the reports stop reading
   their pre-aggregates of people until a refresh without the subject, which that makes due.

Every request (and every opt-out change) is also a security event. Nothing here logs or keeps the
raw identifier: only its pseudonym.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import SecurityEvent, User
from apps_registry.models import App
from core.errors import ApplicationError
from core.metrics import SUBJECT_REQUESTS
from core.periodic import PeriodicJob
from events.models import OptOut, SubjectRequest

from . import blocklist, stores
from .identity import Seen, Subject

logger = logging.getLogger(__name__)


def subject_of(*, app: App, kind: str, value: str = "", pseudonym: str = "") -> Subject:
    try:
        return Subject.of(app_id=app.id, kind=kind, value=value, pseudonym=pseudonym)
    except ValueError as error:
        raise ApplicationError(str(error)) from None


def _audit(action: str, *, app: App, actor: User | None, success: bool = True, **metadata) -> None:
    audit.record(action, success=success, user=actor, resource=f"app:{app.id}", metadata=metadata)


# --- opt-outs -----------------------------------------------------------------------------------------


def opt_out_add(*, app: App, subject: Subject, created_by: User | None) -> OptOut:
    try:
        with transaction.atomic():
            opt_out = OptOut.objects.create(
                app=app, kind=subject.kind, pseudonym=subject.pseudonym, created_by=created_by
            )
    except IntegrityError:
        raise ApplicationError("This subject has opted out already.", status_code=409) from None
    blocklist.forget(app.id)
    _audit(SecurityEvent.Action.OPT_OUT_ADDED, app=app, actor=created_by, opt_out=opt_out.pk, kind=subject.kind)
    return opt_out


def opt_out_remove(*, opt_out: OptOut, removed_by: User | None) -> None:
    app, opt_out_id = opt_out.app, opt_out.pk
    opt_out.delete()
    blocklist.forget(app.id)
    _audit(SecurityEvent.Action.OPT_OUT_REMOVED, app=app, actor=removed_by, opt_out=opt_out_id, kind=opt_out.kind)


# --- export ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectExport:
    request: SubjectRequest
    tables: dict[str, list[dict]]  # table -> the subject's rows; "outbox": rows not stored yet


def subject_export(*, app: App, subject: Subject, requested_by: User | None) -> SubjectExport:
    """Everything stored about the subject: every event, touchpoint, attribution and dead letter, and
    the rows still on the embedded bus. Recorded as a request with the counts."""
    request = SubjectRequest.objects.create(
        app=app,
        action=SubjectRequest.Action.EXPORT,
        kind=subject.kind,
        pseudonym=subject.pseudonym,
        requested_by=requested_by,
        status=SubjectRequest.Status.RUNNING,
        started_at=timezone.now(),
    )
    tables = stores.rows(subject, stores.seen(subject))
    tables["outbox"] = stores.outbox_rows(subject)
    request.outcome = {name: {"found": len(found)} for name, found in tables.items()}
    request.status, request.finished_at = SubjectRequest.Status.DONE, timezone.now()
    request.save(update_fields=["outcome", "status", "finished_at"])
    SUBJECT_REQUESTS.labels(request.action, request.status).inc()
    _audit(SecurityEvent.Action.SUBJECT_EXPORT, app=app, actor=requested_by, request=str(request.pk))
    return SubjectExport(request, tables)


# --- erasure --------------------------------------------------------------------------------------------


def subject_erasure_request(*, app: App, subject: Subject, requested_by: User | None) -> SubjectRequest:
    """Record an erasure; the ``subject_requests`` job runs it (``subject_erase``)."""
    request = SubjectRequest.objects.create(
        app=app,
        action=SubjectRequest.Action.ERASURE,
        kind=subject.kind,
        pseudonym=subject.pseudonym,
        requested_by=requested_by,
    )
    _audit(SecurityEvent.Action.SUBJECT_ERASURE, app=app, actor=requested_by, request=str(request.pk), step="requested")
    return request


def _left(subject: Subject, seen: Seen) -> dict[str, int]:
    return {**stores.counts(subject, seen), "outbox": len(stores.outbox_rows(subject))}


def subject_erase(*, request: SubjectRequest, settle: float | None = None) -> SubjectRequest:
    """Run a pending erasure to its verified end (see the module's docstring). ``settle``: how long to
    wait for every process to know the tombstone before deleting again (default OPT_OUT_CACHE_SECONDS)."""
    subject = Subject(request.app_id, request.kind, request.pseudonym)
    taken = SubjectRequest.objects.filter(pk=request.pk, status=SubjectRequest.Status.PENDING).update(
        status=SubjectRequest.Status.RUNNING, started_at=timezone.now()
    )
    if not taken:
        raise ApplicationError("This request is not pending.", status_code=409)
    request.refresh_from_db()
    blocklist.forget(subject.app_id)
    try:
        outbox = stores.outbox_erase(subject)
        seen = stores.seen(subject)
        found = stores.counts(subject, seen)
        stores.erase(subject, seen)
        left = _left(subject, seen)
        if any(left.values()):
            time.sleep(settings.OPT_OUT_CACHE_SECONDS if settle is None else settle)
            outbox += stores.outbox_erase(subject)
            stores.erase(subject, seen)
            left = _left(subject, seen)
        stores.note_erased(subject)
    except Exception as error:
        request.status, request.error = SubjectRequest.Status.FAILED, f"{type(error).__name__}: {error}"[:2000]
        request.finished_at = timezone.now()
        request.save(update_fields=["status", "error", "finished_at"])
        SUBJECT_REQUESTS.labels(request.action, request.status).inc()
        _audit(
            SecurityEvent.Action.SUBJECT_ERASURE,
            app=request.app,
            actor=request.requested_by,
            success=False,
            request=str(request.pk),
            step="failed",
        )
        raise
    request.outcome = {
        **{name: {"found": count, "left": left[name]} for name, count in found.items()},
        "outbox": {"found": outbox, "left": left["outbox"]},
    }
    request.status = SubjectRequest.Status.FAILED if any(left.values()) else SubjectRequest.Status.DONE
    request.finished_at = timezone.now()
    request.save(update_fields=["outcome", "status", "finished_at"])
    SUBJECT_REQUESTS.labels(request.action, request.status).inc()
    _audit(
        SecurityEvent.Action.SUBJECT_ERASURE,
        app=request.app,
        actor=request.requested_by,
        success=request.status == SubjectRequest.Status.DONE,
        request=str(request.pk),
        step="verified",
        rows=sum(entry["found"] for entry in request.outcome.values()),
    )
    return request


def subject_requests_run(stop: threading.Event | None = None) -> int:
    """Run pending erasures, oldest first; returns how many ran."""
    ran = 0
    while not (stop is not None and stop.is_set()):
        request = (
            SubjectRequest.objects.filter(action=SubjectRequest.Action.ERASURE, status=SubjectRequest.Status.PENDING)
            .order_by("requested_at")
            .first()
        )
        if request is None:
            return ran
        try:
            subject_erase(request=request)
        except ApplicationError:
            continue  # another process took it
        ran += 1
    return ran


def subject_requests_job() -> PeriodicJob:
    return PeriodicJob("subject_requests", subject_requests_run, interval_seconds=2.0)

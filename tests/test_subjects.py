"""Data subjects: export and erasure of one subject across every store, and the opt-out list.

Through the real pipeline: events and clicks posted to the endpoints, carried by the bus, stored by
the consumer, attributed by the engine; a line that does not fit is dead-lettered; a message still
pending on the bus. Then one subject is exported and erased through the admin API; every store is
queried for that subject (0 rows) and for another (untouched)."""

import datetime as dt
import uuid

import msgspec
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import SecurityEvent
from apps_registry import links
from core import clickhouse
from dashboard import attributed_daily
from dashboard.filters import report_filters
from events import privacy
from events.attribution_engine import services as engine
from events.bus import Delivery, Message, publish, topics
from events.bus.outbox import unpacked
from events.consumer.writer import TableWriter
from events.models import OptOut, OutboxMessage, SubjectRequest
from events.subjects import blocklist, services
from events.subjects.identity import Subject
from tests.factories import UserFactory, bearer
from tests.ingestion import IOS_UA, app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)

ERASED_USER, ERASED_IDFA = "customer-erased", "AEBE52E7-03EE-455A-B3C4-E57283966239"
KEPT_USER, KEPT_IDFA = "customer-kept", "11111111-2222-4333-8444-555555555555"


@pytest.fixture(autouse=True)
def _no_settling(settings):
    settings.OPT_OUT_CACHE_SECONDS = 0
    blocklist.remembered.clear()
    blocklist._loaded.clear()


def _events(user: str, idfa: str, now: dt.datetime) -> list[dict]:
    return [
        {"event_name": "install", "user_id": user, "device_ids": {"idfa": idfa}, "timestamp": now.isoformat()},
        {
            "event_name": "purchase",
            "user_id": user,
            "device_ids": {"idfa": idfa},
            "revenue": 4.5,
            "currency": "EUR",
            "timestamp": (now + dt.timedelta(minutes=5)).isoformat(),
        },
    ]


def _rows_of(subject: Subject) -> dict[str, int]:
    """Every store queried for the subject's rows, as an auditor would."""
    params = {"app_id": subject.app_id, "p": subject.pseudonym, "kind": subject.kind}
    found = {
        "events": "SELECT count() FROM events WHERE app_id = {app_id:UUID} AND (user_id = {p:String} "
        "OR device_id = {p:String} OR has(mapValues(device_ids), {p:String}))",
        "touchpoints": "SELECT count() FROM touchpoints WHERE app_id = {app_id:UUID} AND (device_id = {p:String} "
        "OR has(mapValues(device_ids), {p:String}))",
        "attributions": "SELECT count() FROM attributions WHERE app_id = {app_id:UUID} "
        "AND (user_id = {p:String} OR device_key = {p:String})",
        "dead_letters": "SELECT count() FROM dead_letters WHERE position(payload, {p:String}) > 0",
        # Distinct rows: a repeated one (the same people in the same hour) stays until a merge drops it.
        "events_people": "SELECT uniqExact(*) FROM events_people WHERE app_id = {app_id:UUID} "
        "AND (user = cityHash64({p:String}) OR device = cityHash64({p:String}))",
        "people_daily": "SELECT count() FROM people_daily WHERE app_id = {app_id:UUID} "
        "AND (user = cityHash64({p:String}) OR device = cityHash64({p:String}))",
        "people_seen": "SELECT count() FROM people_seen WHERE app_id = {app_id:UUID} "
        "AND (has(users, cityHash64({p:String})) OR person = cityHash64({p:String}))",
    }
    counts = {name: clickhouse.execute(sql, params, tag="test.subject_rows").scalar() for name, sql in found.items()}
    counts["outbox"] = sum(
        subject.pseudonym.encode() in unpacked(bytes(payload))
        for payload in OutboxMessage.objects.values_list("payload", flat=True)
    )
    return counts


@pytest.fixture
def stored(store_all):
    """Two subjects of one app, everywhere; the same user id in another app."""
    app, raw_key = app_with_key()
    other_app, other_key = app_with_key()
    admin = UserFactory(role="admin")
    link = links.link_create(
        app=app, created_by=admin, name="l", media_source="meta", campaign="spring", ios_url="https://apps.apple.com/x"
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)  # after the clicks
    for idfa in (ERASED_IDFA, KEPT_IDFA):
        assert Client().get(f"/c/{link.code}?idfa={idfa}", HTTP_USER_AGENT=IOS_UA).status_code == 302
    for user, idfa in ((ERASED_USER, ERASED_IDFA), (KEPT_USER, KEPT_IDFA)):
        assert post_events(raw_key, _events(user, idfa, now)).status_code == 202
    assert post_events(other_key, _events(ERASED_USER, ERASED_IDFA, now)).status_code == 202
    # A line that does not fit its table names the subject: the consumer dead-letters it.
    erased_user = privacy.pseudonymize(str(app.id), "user", ERASED_USER)
    bad = {"app_id": str(app.id), "event_id": str(uuid.uuid4()), "event_name": "x", "user_id": erased_user}
    publish(topics.EVENTS, [Message(key="bad", value=msgspec.json.encode(bad))])
    subject = Subject(app.id, "user", erased_user)
    store_all(until=lambda: _rows_of(subject)["events"] == 2 and _rows_of(subject)["dead_letters"] == 1)
    store_all(until=lambda: _rows_of(Subject.of(app_id=other_app.id, kind="user", value=ERASED_USER))["events"] == 2)
    engine.attribution_history(app=app, since=now - dt.timedelta(days=1), until=now + dt.timedelta(hours=1))
    attributed_daily.refresh(app)  # the reports' people per day hold the subjects too
    # Still on the bus: a message holding a row of each subject.
    assert post_events(raw_key, [_events(ERASED_USER, ERASED_IDFA, now)[1], _events(KEPT_USER, KEPT_IDFA, now)[1]])
    return app, other_app, admin


def test_one_subject_is_exported_then_erased_from_every_store_and_no_one_else(stored, store_all, settings):
    app, other_app, admin = stored
    erased = Subject.of(app_id=app.id, kind="user", value=ERASED_USER)
    erased_device = Subject.of(app_id=app.id, kind="idfa", value=ERASED_IDFA)
    kept = [
        Subject.of(app_id=app.id, kind="user", value=KEPT_USER),
        Subject.of(app_id=app.id, kind="idfa", value=KEPT_IDFA),
        Subject.of(app_id=other_app.id, kind="user", value=ERASED_USER),
    ]
    # The last message is still on the bus: in the outbox (the embedded bus), or in Kafka, whose messages
    # cannot be edited: the consumer drops the erased subject's row when it gets there.
    pending = 0 if settings.KAFKA_BOOTSTRAP_SERVERS else 1
    before = {s: _rows_of(s) for s in kept}
    # people_seen's rows of the last two days before the refresh are per hour: one per hour of the subject's
    # events (the install and the purchase five minutes after it may fall in two).
    hours = clickhouse.execute(
        "SELECT uniqExact(toStartOfHour(timestamp, {tz:String})) FROM events WHERE app_id = {app_id:UUID} "
        "AND user_id = {p:String}",
        {"app_id": app.id, "p": erased.pseudonym, "tz": app.timezone},
        tag="test.subject_hours",
    ).scalar()
    assert _rows_of(erased) == {
        "events": 2,
        "touchpoints": 0,
        "attributions": 1,
        "dead_letters": 1,
        "events_people": 2,  # who had the install and the purchase: the user's hash with the device's
        "people_daily": 2,
        "people_seen": hours,  # the device's, with the user's hash among its users
        "outbox": pending,
    }
    assert _rows_of(erased_device)["touchpoints"] == 1 and _rows_of(erased_device)["events_people"] == 2

    # Export by the raw user id: exactly that subject's rows, in every table.
    api = APIClient()
    response = api.post(
        f"/api/admin/apps/{app.id}/subjects/export",
        {"kind": "user", "value": ERASED_USER},
        format="json",
        **bearer(admin),
    )
    assert response.status_code == 200, response.content
    export = response.json()
    tables = export["tables"]
    assert {row["user_id"] for row in tables["events"]} == {erased.pseudonym}
    assert sorted(row["event_name"] for row in tables["events"]) == ["install", "purchase"]
    assert [row["conversion_name"] for row in tables["attributions"]] == ["install"]
    assert tables["attributions"][0]["media_source"] == "meta"
    assert len(tables["dead_letters"]) == 1 and erased.pseudonym in tables["dead_letters"][0]["payload"]
    assert [row["user_id"] for row in tables["outbox"]] == [erased.pseudonym] * pending
    assert [row["device_id"] for row in tables["touchpoints"]] == [erased_device.pseudonym]  # the user's device
    assert export["request"]["status"] == "done" and export["request"]["outcome"]["events"] == {"found": 2}
    by_device = api.post(
        f"/api/admin/apps/{app.id}/subjects/export",
        {"kind": "idfa", "pseudonym": erased_device.pseudonym},
        format="json",
        **bearer(admin),
    ).json()["tables"]
    assert [row["device_id"] for row in by_device["touchpoints"]] == [erased_device.pseudonym]

    week = report_filters(data={}, default_model="last_touch", time_zone=app.timezone)
    assert attributed_daily.people_coverage(app, week) is not None

    # Erasure, by the user id and by the device id: 202, then the job runs and verifies it.
    requests = []
    for kind, value in (("user", ERASED_USER), ("idfa", ERASED_IDFA)):
        response = api.post(
            f"/api/admin/apps/{app.id}/subjects/erasure",
            {"kind": kind, "value": value},
            format="json",
            **bearer(admin),
        )
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "pending"
        requests.append(response.json()["id"])
    assert services.subject_requests_run() == 2
    # What was on the bus: the erased subject's row is dropped, the other one stored.
    store_all(until=lambda: _rows_of(kept[0])["events"] == before[kept[0]]["events"] + 1)

    assert _rows_of(erased) == {
        "events": 0,
        "touchpoints": 0,
        "attributions": 0,
        "dead_letters": 0,
        "events_people": 0,
        "people_daily": 0,
        "people_seen": 0,
        "outbox": 0,
    }
    assert _rows_of(erased_device) == {name: 0 for name in _rows_of(erased_device)}
    # A refresh that ran meanwhile may have read the subject's events: none of it is read until the next.
    assert attributed_daily.refresh_due(app)
    assert attributed_daily.people_coverage(app, week) is None
    # The other subject's pending row is stored now; the other app's subject is untouched.
    assert {s: _rows_of(s) for s in kept} == {
        **{s: {**before[s], "events": before[s]["events"] + 1, "outbox": 0} for s in kept[:2]},
        kept[2]: before[kept[2]],
    }
    first = api.get(f"/api/admin/apps/{app.id}/subject-requests/{requests[0]}", **bearer(admin)).json()
    assert first["status"] == "done"
    assert first["outcome"]["events"] == {"found": 2, "left": 0}
    assert first["outcome"]["outbox"] == {"found": pending, "left": 0}
    assert first["outcome"]["dead_letters"] == {"found": 1, "left": 0}
    assert first["outcome"]["touchpoints"] == {"found": 1, "left": 0}  # the user's device's click
    assert first["outcome"]["events_people"] == {"found": 2, "left": 0}
    assert first["outcome"]["people_daily"] == {"found": 2, "left": 0}
    assert first["outcome"]["people_seen"] == {"found": hours, "left": 0}
    second = SubjectRequest.objects.get(pk=requests[1])
    assert second.status == "done" and second.outcome["events"] == {"found": 0, "left": 0}
    assert not SubjectRequest.objects.filter(pseudonym__in=[ERASED_USER, ERASED_IDFA]).exists()

    audited = SecurityEvent.objects.filter(resource=f"app:{app.id}").values_list("action", "success", "metadata")
    actions = [(action, success, metadata.get("step")) for action, success, metadata in audited]
    assert actions.count(("subject_export", True, None)) == 2
    assert actions.count(("subject_erasure", True, "requested")) == 2
    assert actions.count(("subject_erasure", True, "verified")) == 2
    assert all(ERASED_USER not in str(metadata) for *_, metadata in audited)


def test_rows_received_before_an_erasure_are_dropped_when_they_reach_the_consumer():
    """Kafka messages cannot be edited: a row sent before the erasure and consumed after it is
    dropped at store time (the tombstone), a row sent after it is stored."""
    app, _ = app_with_key()
    subject = Subject.of(app_id=app.id, kind="user", value="late")
    request = services.subject_erasure_request(app=app, subject=subject, requested_by=None)
    services.subject_erase(request=request)
    erased_at = SubjectRequest.objects.get(pk=request.pk).started_at

    def line(received_at):
        row = {
            "app_id": str(app.id),
            "event_id": str(uuid.uuid4()),
            "event_name": "open",
            "timestamp": received_at.isoformat(),
            "received_at": received_at.isoformat(),
            "user_id": subject.pseudonym,
        }
        return msgspec.json.encode(row)

    before, after = erased_at - dt.timedelta(seconds=5), timezone.now() + dt.timedelta(seconds=1)
    delivery = Delivery(topics.EVENTS, "k", line(before) + b"\n" + line(after), 0, 1)
    writer = TableWriter(topics.EVENTS)
    assert writer.write(writer.prepare([delivery])) == 1
    stored = clickhouse.execute(
        "SELECT received_at FROM events WHERE app_id = {app:UUID}", {"app": app.id}, tag="test.tombstone"
    ).scalar()
    assert stored > erased_at


def test_an_opted_out_subject_is_not_stored_and_is_counted(store_all, settings):
    app, raw_key = app_with_key()
    admin = UserFactory(role="admin")
    link = links.link_create(app=app, created_by=admin, name="l", media_source="meta", web_url="https://x.example/")
    api = APIClient()
    added = api.post(
        f"/api/admin/apps/{app.id}/opt-outs", {"kind": "user", "value": "opted"}, format="json", **bearer(admin)
    )
    assert added.status_code == 201, added.content
    device = api.post(
        f"/api/admin/apps/{app.id}/opt-outs", {"kind": "gaid", "value": "gaid-opted"}, format="json", **bearer(admin)
    )
    assert device.status_code == 201
    again = api.post(
        f"/api/admin/apps/{app.id}/opt-outs", {"kind": "user", "value": "opted"}, format="json", **bearer(admin)
    )
    assert again.status_code == 409

    response = post_events(
        raw_key, [{"event_name": "open", "user_id": "opted"}, {"event_name": "open", "user_id": "x"}]
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"] == [{"index": 0, "reason": "the subject opted out: the event is not stored"}]
    assert Client().get(f"/c/{link.code}?gaid=gaid-opted").status_code == 302  # redirected, not recorded
    assert Client().get(f"/c/{link.code}?gaid=gaid-other").status_code == 302
    store_all(until=lambda: count("events", app.id) == 1 and count("touchpoints", app.id) == 1)
    users = clickhouse.execute(
        "SELECT user_id FROM events WHERE app_id = {app:UUID}", {"app": app.id}, tag="test.opt_out"
    ).rows
    assert users == [(privacy.pseudonymize(str(app.id), "user", "x"),)]
    touches = clickhouse.execute(
        "SELECT device_id FROM touchpoints WHERE app_id = {app:UUID}", {"app": app.id}, tag="test.opt_out"
    ).rows
    assert touches == [(privacy.pseudonymize(str(app.id), "gaid", "gaid-other"),)]
    metrics = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'unmogrowp_events_total{reason="opted_out",result="dropped"}' in metrics
    assert 'unmogrowp_touchpoints_total{result="opted_out",type="click"}' in metrics

    # Removed: the subject's events are stored again.
    opt_out = OptOut.objects.get(app=app, kind="user")
    assert api.delete(f"/api/admin/apps/{app.id}/opt-outs/{opt_out.pk}", **bearer(admin)).status_code == 204
    assert post_events(raw_key, [{"event_name": "open", "user_id": "opted"}]).json()["accepted"] == 1
    actions = set(SecurityEvent.objects.filter(resource=f"app:{app.id}").values_list("action", flat=True))
    assert {"opt_out_added", "opt_out_removed"} <= actions


def test_the_gdpr_commands_hand_over_only_the_pseudonym(capsys, tmp_path, store_all):
    from django.core.management import call_command

    app, raw_key = app_with_key()
    assert post_events(raw_key, [{"event_name": "open", "user_id": "cli-user"}]).status_code == 202
    store_all(until=lambda: _rows_of(Subject.of(app_id=app.id, kind="user", value="cli-user"))["events"] == 1)
    output = tmp_path / "export.json"
    call_command("gdpr_export", "--app", str(app.id), "--kind", "user", "--value", "cli-user", "--output", str(output))
    document = msgspec.json.decode(output.read_bytes())
    assert [row["event_name"] for row in document["tables"]["events"]] == ["open"]
    call_command("gdpr_delete", "--app", str(app.id), "--kind", "user", "--value", "cli-user")
    assert "every store verified empty" in capsys.readouterr().out
    assert _rows_of(Subject.of(app_id=app.id, kind="user", value="cli-user"))["events"] == 0


def test_django_admin_exports_at_once_and_queues_an_erasure(store_all):
    from accounts.models import User

    app, raw_key = app_with_key()
    assert post_events(raw_key, [{"event_name": "open", "user_id": "admin-subject"}]).status_code == 202
    store_all(until=lambda: _rows_of(Subject.of(app_id=app.id, kind="user", value="admin-subject"))["events"] == 1)
    staff = User.objects.create_superuser("root@example.com", "a sensible passphrase")
    client = Client()
    client.force_login(staff)
    form = {"app": str(app.id), "kind": "user", "value": "admin-subject", "pseudonym": ""}
    export = client.post("/admin/events/subjectrequest/add/", {**form, "action": "export"})
    assert export.status_code == 200, export.content[:500]
    assert export["Content-Disposition"].startswith("attachment")
    assert len(export.json()["tables"]["events"]) == 1
    erasure = client.post("/admin/events/subjectrequest/add/", {**form, "action": "erasure"})
    assert erasure.status_code == 302
    assert SubjectRequest.objects.filter(app=app, action="erasure", status="pending").count() == 1
    opt_out = client.post(
        "/admin/events/optout/add/", {"app": str(app.id), "kind": "idfa", "value": "", "pseudonym": "0" * 32}
    )
    assert opt_out.status_code == 302 and OptOut.objects.filter(app=app, pseudonym="0" * 32).exists()
    both = client.post(
        "/admin/events/optout/add/", {"app": str(app.id), "kind": "idfa", "value": "x", "pseudonym": "0" * 32}
    )
    assert both.status_code == 200 and b"one of them" in both.content

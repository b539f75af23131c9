"""The hash-chained audit log and its API."""

import json

from sqlalchemy import text

from lms.audit import services as audit
from lms.audit.models import AuditEvent
from lms.extensions import db
from tests.http import assert_problem


def _events():
    return db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()


def test_each_event_is_chained_to_the_previous_one(admin):
    first = audit.record("demo.first", "demo", 1, actor=admin, data={"名称": "研修班"})
    second = audit.record("demo.second", "demo", 2, actor=admin)
    assert second.prev_hash == first.hash
    assert audit.verify_chain()[1] is None


def test_tampered_data_is_reported_at_the_first_changed_event(admin):
    events = [audit.record("demo.step", "demo", n, actor=admin, data={"n": n}) for n in range(5)]
    db.session.flush()
    db.session.execute(
        text("UPDATE audit_events SET data = :d WHERE id = :id"),
        {"d": json.dumps({"n": 99}), "id": events[2].id},
    )
    db.session.expire_all()
    checked, first = audit.verify_chain()
    assert checked >= 5
    assert first.event_id == events[2].id
    assert "hash" in first.reason


def test_deleted_event_breaks_the_chain_at_its_successor(admin):
    events = [audit.record("demo.step", "demo", n, actor=admin) for n in range(4)]
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
    db.session.expire_all()
    assert audit.verify_chain()[1].event_id == events[2].id


def test_user_lifecycle_is_audited(admin_client, anon):
    created = admin_client.post(
        "/api/v1/users",
        json={"email": "audit.me@example.cn", "full_name": "审计", "role": "teacher"},
    ).get_json()
    anon.fetch_csrf()
    anon.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": "a long enough passphrase"},
    )
    anon.login("audit.me@example.cn", "a long enough passphrase")
    changed = anon.post(
        "/api/v1/auth/password",
        json={
            "current_password": "a long enough passphrase",
            "new_password": "another long passphrase",
        },
    )
    anon.csrf_token = changed.get_json()["csrf_token"]
    assert anon.post("/api/v1/auth/tokens", json={"name": "t"}).status_code == 201
    admin_client.patch(f"/api/v1/users/{created['id']}", json={"role": "instructor"})
    response = admin_client.get(f"/api/v1/audit-events?entity_type=user&entity_id={created['id']}")
    actions = [e["action"] for e in response.get_json()]
    assert actions == [
        "user.role_changed",
        "user.password_changed",
        "user.activated",
        "user.created",
    ]
    token_events = admin_client.get("/api/v1/audit-events?action=api_token.created").get_json()
    assert token_events[0]["actor_id"] == created["id"]


def test_audit_events_are_for_admins_only(teacher_client, client):
    assert_problem(teacher_client.get("/api/v1/audit-events"), 403)
    assert_problem(client.get("/api/v1/audit-events"), 401)


def test_audit_events_are_paginated_newest_first(admin_client, admin):
    for n in range(15):
        audit.record("demo.step", "demo", n, actor=admin)
    db.session.commit()
    response = admin_client.get("/api/v1/audit-events?entity_type=demo&page_size=10")
    events = response.get_json()
    assert len(events) == 10
    assert events[0]["entity_id"] == "14"
    assert json.loads(response.headers["X-Pagination"])["total"] == 15


def test_audit_cli_reports_ok_and_tampering(app, admin):
    runner = app.test_cli_runner()
    audit.record("demo.step", "demo", 1, actor=admin)
    event = audit.record("demo.step", "demo", 2, actor=admin)
    db.session.commit()
    result = runner.invoke(args=["lms", "audit-verify"])
    assert result.exit_code == 0 and "chain intact" in result.output
    db.session.execute(
        text("UPDATE audit_events SET action = 'forged' WHERE id = :id"), {"id": event.id}
    )
    db.session.commit()
    db.session.expire_all()  # the CLI shares this session; read the tampered row afresh
    result = runner.invoke(args=["lms", "audit-verify"])
    assert result.exit_code == 1
    assert f"event {event.id}" in result.output


def test_record_many_continues_the_chain(admin):
    audit.record("demo.before", "demo", 0, actor=admin)
    events = audit.record_many(
        [audit.PendingEvent("demo.bulk", "demo", n, {"n": n}) for n in range(50)], actor=admin
    )
    after = audit.record("demo.after", "demo", 51, actor=admin)
    assert events[1].prev_hash == events[0].hash
    assert after.prev_hash == events[-1].hash
    assert audit.verify_chain()[1] is None

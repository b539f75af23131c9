"""The public verification API answers from one Core statement and a plain dict (no ORM
entity, no schema dump: docs/benchmarks.md, row 1). It must stay exactly what the documented
``VerifyOut`` schema dumps from ``public_view``, which the HTML page still uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from lms.certificates import verification
from lms.certificates.models import Certificate
from lms.certificates.schemas import VerifyOut
from lms.extensions import db
from tests import evidence
from tests.certificates.helpers import certificate_course, issued_certificate


def _code(serial: str) -> str:
    return db.session.scalar(select(Certificate.verify_code).where(Certificate.serial == serial))


def _schema_answer(code: str) -> dict:
    """What the endpoint answered before: the ORM entity dumped through VerifyOut."""
    return VerifyOut().dump(verification.public_view(verification.by_code(code)))


def _assert_same(client, code: str) -> dict:
    response = client.get(f"/api/v1/verify/{code}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    expected = _schema_answer(code)
    assert body == expected
    # The same JSON types too (floats for hours, strings for the times).
    assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in expected.items()}
    evidence.add("verification answers equal to the VerifyOut dump")
    return body


def test_fast_answer_equals_the_schema_dump_valid_expired_superseded(client, admin_client, users):
    course = certificate_course(admin_client, certificate_validity_months=12)
    issued = issued_certificate(
        admin_client,
        users,
        course,
        full_name="王芳",
        full_name_en="Wang Fang",
        email="wangfang@example.edu.cn",
        institution="深圳职业技术大学",
    )
    serial = issued["certificate"]["serial"]
    code = _code(serial)

    valid = _assert_same(client, code)
    assert valid["status"] == "valid" and valid["expires_at"] is not None

    response = admin_client.post(
        f"/api/v1/certificates/{serial}/reissue", json={"reason": "姓名更正"}
    )
    assert response.status_code == 200, response.get_json()
    superseded = _assert_same(client, code)
    assert superseded["status"] == "superseded"
    assert superseded["replaced_by"] == response.get_json()["serial"]
    assert superseded["replaced_by_url"].endswith(f"/verify/{_code(superseded['replaced_by'])}")

    new_serial = response.get_json()["serial"]
    past = datetime.now(UTC) - timedelta(days=400)
    db.session.execute(
        update(Certificate)
        .where(Certificate.serial == new_serial)
        .values(issued_at=past, expires_at=past + timedelta(days=365))
    )
    db.session.commit()
    expired = _assert_same(client, _code(new_serial))
    assert expired["status"] == "expired"


def test_fast_answer_keeps_the_404_problem(client):
    response = client.get(f"/api/v1/verify/{'A' * 43}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "certificate-not-found"

"""The one verification answer (``lms.certificates.verification.answer``): what the API
answers by code and by serial plus name, and what the page shows. It is a plain dict built
from one Core statement (no ORM entity, no schema dump: docs/benchmarks.md, row 1), so these
tests hold it to the documented ``VerifyOut`` schema: the same fields, with the JSON types
that schema's fields dump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import fields
from sqlalchemy import select, update

from lms.certificates.models import Certificate
from lms.certificates.schemas import VerifyOut
from lms.extensions import db
from tests import evidence
from tests.http import certificate_course, issued_certificate


def _code(serial: str) -> str:
    return db.session.scalar(select(Certificate.verify_code).where(Certificate.serial == serial))


def _assert_documented(client, code: str) -> dict:
    """The API's answer for ``code``, checked against the fields of ``VerifyOut``."""
    response = client.get(f"/api/v1/verify/{code}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    documented = VerifyOut().fields
    assert set(body) == set(documented)
    for name, value in body.items():
        field = documented[name]
        if value is None:
            assert field.allow_none, name
        elif isinstance(field, fields.Float):
            assert isinstance(value, float), name
        elif isinstance(field, fields.DateTime):
            assert datetime.fromisoformat(value).tzinfo is not None, name
        else:
            assert isinstance(value, str), name
    evidence.add("verification answers checked against VerifyOut")
    return body


def test_answer_is_what_verify_out_documents_valid_superseded_expired(client, admin_client, users):
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

    valid = _assert_documented(client, code)
    assert valid["status"] == "valid" and valid["expires_at"] is not None

    response = admin_client.post(
        f"/api/v1/certificates/{serial}/reissue", json={"reason": "姓名更正"}
    )
    assert response.status_code == 200, response.get_json()
    superseded = _assert_documented(client, code)
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
    expired = _assert_documented(client, _code(new_serial))
    assert expired["status"] == "expired"


def test_serial_and_name_answer_equals_the_code_answer(client, admin_client, users):
    course = certificate_course(admin_client)
    issued = issued_certificate(admin_client, users, course, full_name="王芳")
    serial = issued["certificate"]["serial"]

    by_code = _assert_documented(client, _code(serial))
    response = client.get("/api/v1/verify", query_string={"serial": serial, "name": "王芳"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == by_code


def test_fast_answer_keeps_the_404_problem(client):
    response = client.get(f"/api/v1/verify/{'A' * 43}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "certificate-not-found"

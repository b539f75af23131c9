"""Public verification: the API by code and by serial plus name, and the HTML page."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from lms.certificates.models import Certificate
from lms.extensions import db
from tests.http import assert_problem, certificate_course, issued_certificate

PUBLIC_FIELDS = {
    "status",
    "serial",
    "holder_name",
    "holder_name_en",
    "course_title",
    "program_title",
    "theory_hours",
    "practical_hours",
    "total_hours",
    "issued_at",
    "expires_at",
    "issued_on",
    "expires_on",
    "issuer",
    "replaced_by",
    "replaced_by_url",
}


@pytest.fixture
def course(admin_client):
    return certificate_course(admin_client)


@pytest.fixture
def issued(admin_client, users, course):
    return issued_certificate(
        admin_client,
        users,
        course,
        full_name="李明",
        full_name_en="Li Ming",
        email="liming@example.edu.cn",
        institution="广东轻工职业技术学院",
    )


def code_of(serial: str) -> str:
    return db.session.scalar(select(Certificate.verify_code).where(Certificate.serial == serial))


def _post(client, serial, action, reason="原因"):
    response = client.post(f"/api/v1/certificates/{serial}/{action}", json={"reason": reason})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- API --------------------------------------------------------------------------------------


def test_verify_by_code_states_the_certificate_and_nothing_personal(client, issued, course):
    cert = issued["certificate"]

    response = client.get(f"/api/v1/verify/{code_of(cert['serial'])}")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == PUBLIC_FIELDS
    assert body["status"] == "valid"
    assert body["serial"] == cert["serial"]
    assert (body["holder_name"], body["holder_name_en"]) == ("李明", "Li Ming")
    assert body["course_title"] == course["title"]
    assert body["issuer"] == "广东轻工职业技术学院"
    assert (body["theory_hours"], body["practical_hours"], body["total_hours"]) == (2, 0, 2)
    assert body["issued_at"] == cert["issued_at"] and body["expires_at"] is None
    assert body["replaced_by"] is None and body["replaced_by_url"] is None
    text = response.get_data(as_text=True)
    assert "liming@example.edu.cn" not in text
    assert str(issued["user"].id) not in (str(v) for v in body.values())


def test_verify_is_public_and_needs_no_csrf(anon, issued):
    code = code_of(issued["certificate"]["serial"])
    assert anon.get(f"/api/v1/verify/{code}").status_code == 200
    assert anon.get(f"/verify/{code}").status_code == 200


@pytest.mark.parametrize("code", ["x" * 43, "short", "bad!code" * 6, "a" * 65])
def test_unknown_code_is_404(client, code):
    assert_problem(client.get(f"/api/v1/verify/{code}"), 404, "certificate-not-found")


def test_revoked_certificate_verifies_as_revoked(client, admin_client, issued):
    serial = issued["certificate"]["serial"]
    _post(admin_client, serial, "revoke")

    body = client.get(f"/api/v1/verify/{code_of(serial)}").get_json()
    page = client.get(f"/verify/{code_of(serial)}")

    assert body["status"] == "revoked"
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已撤销" in html and "REVOKED" in html and "status-revoked" in html
    assert "有效</span>" not in html

    _post(admin_client, serial, "restore")
    assert client.get(f"/api/v1/verify/{code_of(serial)}").get_json()["status"] == "valid"


@pytest.mark.parametrize(
    ("zone", "issued_on", "expires_on"),
    [
        ("Asia/Shanghai", "2026-12-04", "2027-12-04"),
        ("America/New_York", "2026-12-03", "2027-12-03"),
    ],
)
def test_issue_and_expiry_days_are_stated_in_the_course_time_zone(
    client, admin_client, users, zone, issued_on, expires_on
):
    course = certificate_course(admin_client, certificate_validity_months=12, time_zone=zone)
    serial = issued_certificate(admin_client, users, course)["certificate"]["serial"]
    evening = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # 4 December 04:00 in Shanghai
    db.session.execute(
        update(Certificate)
        .where(Certificate.serial == serial)
        .values(issued_at=evening, expires_at=evening.replace(year=2027))
    )
    db.session.commit()
    body = client.get(f"/api/v1/verify/{code_of(serial)}").get_json()
    assert (body["issued_on"], body["expires_on"]) == (issued_on, expires_on)
    assert body["issued_at"] == "2026-12-03T20:00:00+00:00"
    html = client.get(f"/verify/{code_of(serial)}").get_data(as_text=True)
    assert issued_on in html and expires_on in html
    pdf = admin_client.get(f"/api/v1/certificates/{serial}/pdf")
    assert pdf.status_code == 200
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    year, month, day = (int(part) for part in issued_on.split("-"))
    assert f"{year}年{month}月{day}日" in text  # the date of issue the PDF states


def test_expired_certificate_verifies_as_expired(client, admin_client, users):
    course = certificate_course(admin_client, certificate_validity_months=12)
    serial = issued_certificate(admin_client, users, course)["certificate"]["serial"]
    code = code_of(serial)
    assert client.get(f"/api/v1/verify/{code}").get_json()["status"] == "valid"
    past = datetime.now(UTC) - timedelta(days=400)
    db.session.execute(
        update(Certificate)
        .where(Certificate.serial == serial)
        .values(issued_at=past, expires_at=past + timedelta(days=365))
    )
    db.session.commit()

    body = client.get(f"/api/v1/verify/{code}").get_json()
    html = client.get(f"/verify/{code}").get_data(as_text=True)
    listed = admin_client.get(f"/api/v1/certificates/{serial}").get_json()

    assert body["status"] == "expired"
    assert "已过期" in html and "EXPIRED" in html and "status-expired" in html
    assert listed["status"] == "valid" and listed["expired"] is True


def test_reissued_certificate_points_to_its_replacement(client, admin_client, issued):
    old = issued["certificate"]
    response = admin_client.patch(f"/api/v1/users/{issued['user'].id}", json={"full_name": "李敏"})
    assert response.status_code == 200, response.get_json()
    new = _post(admin_client, old["serial"], "reissue", "姓名更正")
    old_code, new_code = code_of(old["serial"]), code_of(new["serial"])

    body = client.get(f"/api/v1/verify/{old_code}").get_json()
    new_body = client.get(f"/api/v1/verify/{new_code}").get_json()
    html = client.get(f"/verify/{old_code}").get_data(as_text=True)

    assert body["status"] == "superseded"
    assert body["holder_name"] == "李明"
    assert body["replaced_by"] == new["serial"]
    assert body["replaced_by_url"] == new["verify_url"]
    assert new_body["status"] == "valid" and new_body["holder_name"] == "李敏"
    assert "已被替换" in html and "SUPERSEDED" in html
    assert f'href="/verify/{new_code}"' in html and new["serial"] in html
    assert "李敏" in client.get(f"/verify/{new_code}").get_data(as_text=True)


@pytest.mark.parametrize(
    "name", ["李明", " 李 明 ", "李　明", "Li Ming", "li ming", "LIMING", "  ｌｉ　ｍｉｎｇ "]
)
def test_verify_by_serial_and_name_ignores_spaces_case_and_width(client, issued, name):
    serial = issued["certificate"]["serial"]
    response = client.get("/api/v1/verify", query_string={"serial": serial, "name": name})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["serial"] == serial


def test_verify_by_serial_accepts_lowercase_and_full_width_serials(client, issued):
    serial = issued["certificate"]["serial"]
    wide = serial.lower().translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    for variant in (serial.lower(), f" {serial} ", wide):
        response = client.get("/api/v1/verify", query_string={"serial": variant, "name": "李明"})
        assert response.status_code == 200, (variant, response.get_json())


@pytest.mark.parametrize(
    ("serial", "name"), [("OK", "王芳"), ("NOPE-2026-00001", "李明"), ("OK", "李明明")]
)
def test_wrong_serial_or_name_is_404(client, issued, serial, name):
    serial = issued["certificate"]["serial"] if serial == "OK" else serial
    response = client.get("/api/v1/verify", query_string={"serial": serial, "name": name})
    assert_problem(response, 404, "certificate-not-found")


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"serial": "X"},
        {"name": "李明"},
        {"serial": " ", "name": "李明"},
    ],
)
def test_verify_by_serial_needs_both_params(client, query):
    assert_problem(client.get("/api/v1/verify", query_string=query), 422)


def test_verification_is_rate_limited(app, client, issued, monkeypatch):
    monkeypatch.setitem(app.config, "CERT_VERIFY_RATE_LIMIT", "3 per minute")
    code = code_of(issued["certificate"]["serial"])

    answers = [client.get(f"/api/v1/verify/{code}").status_code for _ in range(2)]
    answers.append(client.get(f"/verify/{code}").status_code)  # the page shares the budget
    api = client.get(f"/api/v1/verify/{code}")
    page = client.get(f"/verify/{code}")

    assert answers == [200, 200, 200]
    assert_problem(api, 429)
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "请求过于频繁" in page.get_data(as_text=True)


# --- the page ------------------------------------------------------------------------------------


def test_page_is_bilingual_mobile_friendly_and_script_free(client, issued, course):
    serial = issued["certificate"]["serial"]

    page = client.get(f"/verify/{code_of(serial)}")

    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<meta name="viewport"' in html
    assert "有效" in html and "VALID" in html and "status-valid" in html
    assert "李明" in html and "Li Ming" in html and serial in html and course["title"] in html
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html  # no external assets
    assert "liming@example.edu.cn" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Robots-Tag"] == "noindex"


def test_page_of_unknown_code_is_a_bilingual_404_page(client):
    page = client.get("/verify/" + "x" * 43)
    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "未找到证书" in html and "CERTIFICATE NOT FOUND" in html

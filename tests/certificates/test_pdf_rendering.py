"""Certificate PDF font policy: the startup check, the rendering record, re-rendering."""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from lms.app import create_app
from lms.audit.models import AuditEvent
from lms.certificates import fonts
from lms.certificates.models import Certificate
from lms.certificates.signing import write_private_key
from lms.core.storage import get_storage
from lms.extensions import db
from tests.certificates import test_pdf
from tests.certificates.test_pdf import _embedded_truetype, _fonts
from tests.http import assert_problem

# The fixtures of test_pdf.py: the machine's CJK font, no font at all, an issued certificate.
cjk_font, no_font, holder = test_pdf.cjk_font, test_pdf.no_font, test_pdf.holder


def _serial(setup) -> str:
    return setup["certificate"]["serial"]


def _render_url(serial: str) -> str:
    return f"/api/v1/certificates/{serial}/pdf/render"


def _certificate(serial: str) -> Certificate:
    return db.session.scalar(select(Certificate).where(Certificate.serial == serial))


# --- the startup check -------------------------------------------------------------------------


@pytest.fixture
def production_env(monkeypatch, tmp_path, app):
    """What LMS_ENV=production requires besides the font: a secret and a signing key."""
    key = tmp_path / "signing.pem"
    write_private_key(key)
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("LMS_SIGNING_KEY", str(key))
    return {
        "LMS_ENV": "production",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "LMS_UPLOAD_DIR": app.config["LMS_UPLOAD_DIR"],
        "RATELIMIT_STORAGE_URI": "memory://",
    }


def test_production_refuses_to_start_with_an_unusable_configured_font(production_env, tmp_path):
    bogus = tmp_path / "not-a-font.ttf"
    bogus.write_bytes(b"this is no font")

    with pytest.raises(fonts.CertificateFontError) as refused:
        create_app({**production_env, "LMS_CERT_FONT": str(bogus)})

    message = str(refused.value)
    assert "LMS_ENV=production refuses to start" in message
    assert "not-a-font.ttf" in message
    assert "apt-get install fonts-wqy-zenhei" in message and "LMS_CERT_FONT" in message


def test_production_refuses_to_start_without_any_cjk_font(production_env, no_font):
    with pytest.raises(fonts.CertificateFontError, match="non-embedded STSong-Light"):
        create_app({**production_env, "LMS_CERT_FONT": ""})


def test_production_starts_with_an_embeddable_font(production_env, cjk_font):
    app = create_app({**production_env, "LMS_CERT_FONT": cjk_font.path})
    assert app.config["LMS_ENV"] == "production"


def test_development_starts_without_a_font_but_logs_a_warning(
    app, no_font, caplog, tmp_path, monkeypatch
):
    key = tmp_path / "signing.pem"
    write_private_key(key)
    monkeypatch.setenv("LMS_SIGNING_KEY", str(key))
    caplog.set_level(logging.WARNING, logger=fonts.log.name)
    create_app(
        {
            "LMS_ENV": "development",
            "LMS_CERT_FONT": str(tmp_path / "missing.ttf"),
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "LMS_UPLOAD_DIR": app.config["LMS_UPLOAD_DIR"],
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "missing.ttf" in w and "fonts-wqy-zenhei" in w and "stay broken" in w for w in warnings
    ), warnings


# --- the rendering record -----------------------------------------------------------------------


def test_certificate_json_records_how_its_pdf_was_rendered(admin_client, holder, cjk_font):
    url = f"/api/v1/certificates/{_serial(holder)}"
    before = admin_client.get(url).get_json()["pdf"]
    assert before == {"stored": False, "font": None, "font_embedded": None, "rendered_at": None}

    assert holder["client"].get(f"{url}/pdf").status_code == 200
    after = admin_client.get(url).get_json()["pdf"]

    assert after["stored"] is True
    assert after["font"] == cjk_font.label and after["font_embedded"] is True
    assert after["rendered_at"].endswith("Z") or after["rendered_at"].endswith("+00:00")


def test_a_pdf_rendered_with_the_fallback_font_is_recorded_as_not_embedded(
    app, admin_client, holder, no_font, monkeypatch
):
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", "")
    assert holder["client"].get(f"/api/v1/certificates/{_serial(holder)}/pdf").status_code == 200

    record = admin_client.get(f"/api/v1/certificates/{_serial(holder)}").get_json()["pdf"]

    assert record["font"] == fonts.FALLBACK_CID_FONT and record["font_embedded"] is False


# --- re-rendering -------------------------------------------------------------------------------


def test_admin_rerenders_a_fallback_pdf_with_the_installed_font_same_serial_same_text(
    app, admin_client, holder, cjk_font, no_font, monkeypatch
):
    serial = _serial(holder)
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", "")  # rendered on a machine without font
    broken = holder["client"].get(f"/api/v1/certificates/{serial}/pdf").data
    old_key = _certificate(serial).pdf_key
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", cjk_font.path)  # the font is installed

    response = admin_client.post(_render_url(serial))

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["serial"] == serial
    assert body["pdf"]["font"] == cjk_font.label and body["pdf"]["font_embedded"] is True
    certificate = _certificate(serial)
    assert certificate.pdf_key != old_key
    assert not get_storage().exists(old_key)  # deleted once the re-render committed
    fixed = holder["client"].get(f"/api/v1/certificates/{serial}/pdf").data
    assert fixed != broken
    old_text = PdfReader(io.BytesIO(broken)).pages[0].extract_text()
    new_reader = PdfReader(io.BytesIO(fixed))
    # The frozen snapshot, the same text (lines wrap elsewhere: other glyph widths).
    assert "".join(new_reader.pages[0].extract_text().split()) == "".join(old_text.split())
    assert any(_embedded_truetype(f) for f in _fonts(new_reader))
    with zipfile.ZipFile(
        io.BytesIO(admin_client.get(f"/api/v1/courses/{body['course_id']}/certificates.zip").data)
    ) as archive:
        assert [archive.read(name) for name in archive.namelist()] == [fixed]


def test_rerendering_is_audited_with_the_old_and_the_new_font(
    app, admin, admin_client, holder, cjk_font, no_font, monkeypatch
):
    serial = _serial(holder)
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", "")
    holder["client"].get(f"/api/v1/certificates/{serial}/pdf")
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", cjk_font.path)

    assert admin_client.post(_render_url(serial)).status_code == 200

    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "certificate.pdf_rendered")
    )
    assert event is not None and event.actor_id == admin.id
    assert event.entity_id == str(_certificate(serial).id)
    assert event.data["serial"] == serial
    assert event.data["old"] == {"font": fonts.FALLBACK_CID_FONT, "font_embedded": False}
    assert event.data["new"] == {"font": cjk_font.label, "font_embedded": True}


def test_rerendering_a_pdf_never_downloaded_stores_its_first_pdf(admin_client, holder, cjk_font):
    response = admin_client.post(_render_url(_serial(holder)))

    assert response.status_code == 200
    assert response.get_json()["pdf"]["stored"] is True


def test_admin_may_rerender_a_revoked_certificate_as_they_may_download_it(
    admin_client, holder, cjk_font
):
    serial = _serial(holder)
    revoked = admin_client.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "错误"})
    assert revoked.status_code == 200

    response = admin_client.post(_render_url(serial))

    assert response.status_code == 200 and response.get_json()["status"] == "revoked"


def test_rerendering_without_an_embeddable_font_is_409_and_changes_nothing(
    app, admin_client, holder, no_font, monkeypatch
):
    serial = _serial(holder)
    monkeypatch.setitem(app.config, "LMS_CERT_FONT", "")
    holder["client"].get(f"/api/v1/certificates/{serial}/pdf")
    key = _certificate(serial).pdf_key

    response = admin_client.post(_render_url(serial))

    assert_problem(response, 409, "certificate-font-not-embedded")
    assert _certificate(serial).pdf_key == key and get_storage().exists(key)


def test_the_holder_cannot_rerender_their_certificate(holder, cjk_font):
    assert_problem(holder["client"].post(_render_url(_serial(holder))), 403)


def test_rerendering_an_unknown_serial_is_404(admin_client):
    assert_problem(admin_client.post(_render_url("GZ-NOPE-2020-00001")), 404)


def test_rerendering_takes_no_body(admin_client, holder, cjk_font):
    response = admin_client.post(_render_url(_serial(holder)), json={"font": "x"})
    assert_problem(response, 422)

"""Certificate PDFs: content, embedded CJK font, QR code, stored once, permissions, ZIP."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import segno
from pypdf import PdfReader
from sqlalchemy import select, update

from lms.accounts.models import User
from lms.certificates import fonts
from lms.certificates import pdf as certificate_pdf
from lms.certificates.models import Certificate
from lms.core.storage import get_storage
from lms.extensions import db
from tests.builders import UserFactory
from tests.http import (
    assert_problem,
    certificate_course,
    client_for,
    instructor_of,
    issued_certificate,
)

A4_LANDSCAPE = (841.89, 595.28)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def cjk_font(app):
    """The machine's CJK font; missing: a failure under CI (which installs one), else a skip."""
    with app.app_context():
        font = fonts.certificate_font()
    if not font.embedded:
        message = "no CJK TrueType font on this machine (apt-get install fonts-wqy-zenhei)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return font


@pytest.fixture
def no_font(monkeypatch):
    """No CJK font anywhere: the cached discovery is redone without any candidate."""
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ())
    monkeypatch.setattr(fonts, "fontconfig_fonts", lambda: [])
    fonts.resolve_font.cache_clear()
    yield
    fonts.resolve_font.cache_clear()


@pytest.fixture
def holder(app, admin_client, users):
    """An issued certificate to 欧阳晓燕 (no English name: pinyin), with her logged-in client."""
    setup = issued_certificate(
        admin_client, users, full_name="欧阳晓燕", institution="深圳职业技术大学"
    )
    setup["client"] = client_for(app, setup["user"])
    return setup


def _serial(setup) -> str:
    return setup["certificate"]["serial"]


def _certificate(serial: str) -> Certificate:
    return db.session.scalar(select(Certificate).where(Certificate.serial == serial))


def _pdf_url(serial: str) -> str:
    return f"/api/v1/certificates/{serial}/pdf"


def _fonts(reader: PdfReader) -> list:
    resources = reader.pages[0]["/Resources"]["/Font"]
    return [resources[name].get_object() for name in resources]


def _embedded_truetype(font) -> bool:
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and "/FontFile2" in descriptor.get_object()


# --- content ----------------------------------------------------------------------------------


def test_pdf_states_the_chinese_name_with_an_embedded_font_on_a4_landscape(holder, cjk_font):
    response = holder["client"].get(_pdf_url(_serial(holder)))
    assert response.status_code == 200, response.get_data(as_text=True)
    reader = PdfReader(io.BytesIO(response.data))

    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4_LANDSCAPE
    text = reader.pages[0].extract_text()
    for expected in (
        "欧阳晓燕",
        "Ouyang Xiaoyan",
        _serial(holder),
        "深圳职业技术大学",
        "结业证书",
        "Certificate of Completion".upper().replace(" ", "  "),
        "工业互联网产教融合教师研修·广州站",
        "中国职业技术教育学会",
        "广州",
        "2 December 2020",
        "8 December 2099",
        "2 theory hours",
    ):
        assert expected in text, (expected, text)
    assert any(_embedded_truetype(font) for font in _fonts(reader)), "CJK font not embedded"
    subset = [f["/BaseFont"] for f in _fonts(reader) if _embedded_truetype(f)]
    assert all(re.match(r"/[A-Z]{6}\+", name) for name in subset), subset  # a subset


def test_pdf_metadata_names_the_certificate_and_its_issue_date(holder, cjk_font):
    data = holder["client"].get(_pdf_url(_serial(holder))).data
    info = PdfReader(io.BytesIO(data)).metadata
    certificate = _certificate(_serial(holder))
    assert info.title == f"结业证书 {_serial(holder)}"
    assert info.author == "广东轻工职业技术学院"
    assert "欧阳晓燕" in info.subject
    assert info["/CreationDate"].startswith(f"D:{certificate.issued_at:%Y%m%d%H%M%S}")


def test_pdf_carries_a_qr_code_of_the_verify_url_and_the_url_as_text(app, holder):
    data = holder["client"].get(_pdf_url(_serial(holder))).data
    page = PdfReader(io.BytesIO(data)).pages[0]
    url = f"{app.config['LMS_BASE_URL']}/verify/{_certificate(_serial(holder)).verify_code}"

    assert url in page.extract_text().replace("\n", "")
    # The QR code is drawn as rectangles in module units: read them back into a matrix.
    content = page.get_contents().get_data().decode("latin-1")
    drawing = content.split(f"/{certificate_pdf.QR_MARK} BMC", 1)[1].split("EMC", 1)[0]
    expected = segno.make(url, error="m", micro=False).matrix
    size = len(expected)
    drawn = [[0] * size for _ in range(size)]
    for x, y, width in re.findall(r"(\d+) (\d+) (\d+) 1 re", drawing):
        for col in range(int(x), int(x) + int(width)):
            drawn[size - 1 - int(y)][col] = 1
    assert drawn == [list(row) for row in expected]


def test_english_name_comes_from_the_snapshot(admin_client, users, cjk_font):
    setup = issued_certificate(
        admin_client, users, full_name="李明", full_name_en="Ming LI (Kevin)"
    )
    text = PdfReader(io.BytesIO(admin_client.get(_pdf_url(_serial(setup))).data)).pages[0]
    assert "Ming LI (Kevin)" in text.extract_text()


def test_expiry_date_is_printed_when_the_course_gives_a_validity(admin_client, users, cjk_font):
    course = certificate_course(admin_client, certificate_validity_months=24)
    setup = issued_certificate(admin_client, users, course)
    text = PdfReader(io.BytesIO(admin_client.get(_pdf_url(_serial(setup))).data)).pages[0]
    assert "有效期至 Valid until" in text.extract_text()


def test_a_very_long_course_title_still_fits_and_is_stated_whole(admin_client, users, cjk_font):
    title = "工业互联网产教融合教师研修" * 15  # 195 characters, near the 200 allowed
    course = certificate_course(admin_client, title=title)
    setup = issued_certificate(admin_client, users, course)
    response = admin_client.get(_pdf_url(_serial(setup)))
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    assert title in reader.pages[0].extract_text().replace("\n", "")


# --- rendered once ------------------------------------------------------------------------------


def test_second_download_returns_identical_bytes_even_after_the_name_changed(holder):
    first = holder["client"].get(_pdf_url(_serial(holder)))
    db.session.execute(
        update(User).where(User.id == holder["user"].id).values(full_name="欧阳晓雁")
    )
    db.session.commit()
    second = holder["client"].get(_pdf_url(_serial(holder)))

    assert second.status_code == 200
    assert second.data == first.data
    certificate = _certificate(_serial(holder))
    assert certificate.pdf_key and len(certificate.pdf_sha256) == 64
    with get_storage().open(certificate.pdf_key) as stored:
        assert stored.read() == first.data


def test_pdf_is_sent_as_a_private_attachment(holder):
    response = holder["client"].get(_pdf_url(_serial(holder)))
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename={_serial(holder)}.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.data.startswith(b"%PDF-")


def test_a_lost_race_keeps_the_winners_pdf_and_deletes_its_own(app, holder, monkeypatch):
    certificate = _certificate(_serial(holder))
    storage = get_storage()
    winner = storage.save(io.BytesIO(b"%PDF- the winner's"), suffix=".pdf")
    # Another request stored its PDF after this one read the certificate.
    db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id)
        .values(pdf_key=winner.key, pdf_sha256=winner.sha256)
        .execution_options(synchronize_session=False)
    )
    saved = []
    original_save = storage.save
    monkeypatch.setattr(
        storage, "save", lambda *a, **kw: saved.append(original_save(*a, **kw)) or saved[-1]
    )

    assert certificate_pdf.ensure_pdf(certificate) == (winner.key, winner.sha256)
    assert len(saved) == 1 and not storage.exists(saved[0].key)
    assert certificate.pdf_key == winner.key


def test_a_rolled_back_first_download_leaves_neither_key_nor_file(app, holder):
    certificate = _certificate(_serial(holder))
    key, _ = certificate_pdf.ensure_pdf(certificate)
    assert get_storage().exists(key)

    db.session.rollback()  # what the request boundary does when anything fails

    assert not get_storage().exists(key)
    assert _certificate(_serial(holder)).pdf_key is None


# --- who may download --------------------------------------------------------------------------


def test_pdf_download_permissions(app, admin_client, users, holder, anon):
    serial = _serial(holder)
    other_teacher = client_for(app, users.create(role="teacher"))
    instructor = instructor_of(app, users, admin_client, holder["course"]["id"])

    assert holder["client"].get(_pdf_url(serial)).status_code == 200
    assert admin_client.get(_pdf_url(serial)).status_code == 200
    assert_problem(other_teacher.get(_pdf_url(serial)), 404)
    assert_problem(instructor.get(_pdf_url(serial)), 404)
    assert_problem(anon.get(_pdf_url(serial)), 401)
    assert_problem(admin_client.get(_pdf_url("NO-SUCH-2020-00001")), 404)


def test_holder_cannot_download_a_revoked_certificate_but_an_admin_can(admin_client, holder):
    serial = _serial(holder)
    response = admin_client.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "舞弊"})
    assert response.status_code == 200, response.get_json()

    assert_problem(holder["client"].get(_pdf_url(serial)), 409, "certificate-revoked")
    assert admin_client.get(_pdf_url(serial)).status_code == 200


def test_holder_of_a_superseded_certificate_is_pointed_to_the_new_one(admin_client, holder):
    serial = _serial(holder)
    response = admin_client.post(f"/api/v1/certificates/{serial}/reissue", json={"reason": "更名"})
    assert response.status_code in (200, 201), response.get_json()
    new_serial = response.get_json()["serial"]
    assert new_serial != serial

    body = assert_problem(holder["client"].get(_pdf_url(serial)), 409, "certificate-superseded")
    assert body["replaced_by"] == new_serial
    assert holder["client"].get(_pdf_url(new_serial)).status_code == 200
    assert admin_client.get(_pdf_url(serial)).status_code == 200


# --- without a CJK font ------------------------------------------------------------------------


def test_without_a_cjk_font_a_warning_is_logged_once_and_the_pdf_still_renders(
    app, admin_client, users, no_font, caplog
):
    setup = issued_certificate(admin_client, users, full_name="欧阳晓燕")
    with caplog.at_level(logging.WARNING, logger="lms.certificates.fonts"):
        first = admin_client.get(_pdf_url(_serial(setup)))
        other = issued_certificate(admin_client, users, setup["course"])
        admin_client.get(_pdf_url(_serial(other)))

    assert first.status_code == 200
    warnings = [r for r in caplog.records if "No CJK TrueType font" in r.getMessage()]
    assert len(warnings) == 1
    reader = PdfReader(io.BytesIO(first.data))
    names = [f["/BaseFont"] for f in _fonts(reader)]
    assert any("STSong-Light" in name for name in names), names
    assert not any(_embedded_truetype(f) for f in _fonts(reader))
    assert _serial(setup) in reader.pages[0].extract_text()


def test_lms_cert_font_that_is_not_a_font_file_is_ignored_with_a_warning(
    app, tmp_path, caplog, cjk_font
):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a font")
    with caplog.at_level(logging.WARNING, logger="lms.certificates.fonts"):
        found = fonts.resolve_font(str(bogus))
    assert found.embedded  # the system font was found after all
    assert any("LMS_CERT_FONT" in r.getMessage() for r in caplog.records)
    fonts.resolve_font.cache_clear()


def test_lms_cert_font_is_used_when_set(cjk_font):
    found = fonts.resolve_font(cjk_font.path)
    assert found.path == cjk_font.path and found.embedded
    fonts.resolve_font.cache_clear()


# --- ZIP export ------------------------------------------------------------------------------


def _zip_url(course_id: int) -> str:
    return f"/api/v1/courses/{course_id}/certificates.zip"


def test_zip_holds_exactly_the_valid_certificates_of_the_course(app, admin_client, users):
    course = certificate_course(admin_client, code="GZ-ZIP-1")
    kept = [
        issued_certificate(admin_client, users, course, full_name=name)
        for name in ("欧阳晓燕", "李明", "王/小:明")
    ]
    revoked = issued_certificate(admin_client, users, course, full_name="赵撤销")
    admin_client.post(f"/api/v1/certificates/{_serial(revoked)}/revoke", json={"reason": "错误"})
    issued_certificate(admin_client, users, full_name="别的课程")  # another course
    first_pdf = admin_client.get(_pdf_url(_serial(kept[0]))).data  # one already stored

    response = admin_client.get(_zip_url(course["id"]))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=GZ-ZIP-1-certificates.zip"
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        expected = sorted(
            f"{_serial(s)}_{s['user'].full_name}.pdf".replace("/", "_").replace(":", "_")
            for s in kept
        )
        assert names == expected
        assert archive.read(names[0]) == first_pdf
        for name, setup in zip(names, sorted(kept, key=_serial), strict=True):
            stored = _certificate(_serial(setup))
            assert stored.pdf_key is not None  # rendered and stored for the export
            assert archive.read(name) == admin_client.get(_pdf_url(_serial(setup))).data


def test_zip_of_a_course_without_certificates_is_an_empty_archive(admin_client):
    course = certificate_course(admin_client)
    response = admin_client.get(_zip_url(course["id"]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.namelist() == []


def test_zip_is_for_admins_only(app, admin_client, holder, anon):
    course_id = holder["course"]["id"]
    assert_problem(holder["client"].get(_zip_url(course_id)), 403)
    assert_problem(anon.get(_zip_url(course_id)), 401)
    assert_problem(admin_client.get(_zip_url(999_999)), 404)


def test_zip_entry_names_are_safe_file_names():
    name = certificate_pdf.zip_entry_name("GZ-2020-00001", '../王"小\\明\x00')
    assert "/" not in name and "\\" not in name and '"' not in name and "\x00" not in name
    assert name.startswith("GZ-2020-00001_") and name.endswith(".pdf")


# --- real concurrency (PostgreSQL) -------------------------------------------------------------


def _stored_files(app) -> set:
    root = Path(app.config["LMS_UPLOAD_DIR"])
    return {p for p in root.rglob("*.pdf") if not p.name.startswith(".tmp-")}


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
def test_concurrent_first_downloads_store_one_pdf_and_answer_identical_bytes(app):
    factory = UserFactory()
    with app.app_context():
        emails = [factory.create(role="admin").email for _ in range(6)]
    clients = [client_for(app, email, own_address=True) for email in emails]
    with app.app_context():
        setup = issued_certificate(clients[0], factory, full_name="欧阳晓燕")
    before = _stored_files(app)
    barrier = threading.Barrier(len(clients))

    def download(client):
        barrier.wait()
        return client.get(_pdf_url(_serial(setup)))

    with ThreadPoolExecutor(len(clients)) as pool:
        responses = list(pool.map(download, clients))

    assert [r.status_code for r in responses] == [200] * len(clients)
    assert len({r.data for r in responses}) == 1
    assert len(_stored_files(app) - before) == 1  # the losers deleted their files

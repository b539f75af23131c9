"""Certificate PDFs: rendering, storing once, downloading, and the course ZIP export.

A certificate's PDF is rendered from its snapshot (never from the current user or course)
on first download, stored through ``lms.core.storage``, and its key and SHA-256 recorded on
the certificate; every later download returns those bytes. Two first downloads racing each
other both render, but only one conditional UPDATE (``WHERE pdf_key IS NULL``) wins; the
loser deletes its file and answers with the winner's.

Who may download (``downloadable_certificate``):

- an admin: any certificate, whatever its status (an archive must stay complete);
- the holder: their valid certificates, expired ones included (an expired certificate still
  states what it stated, and verification shows it as expired). A revoked or superseded
  certificate answers 409 (``certificate-revoked``, ``certificate-superseded`` with the
  serial of the replacement): the holder knows it exists, but it must not circulate anew;
- anyone else: 404, as if it did not exist.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import segno
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from lms.audit import services as audit
from lms.catalog.models import Course
from lms.catalog.permissions import is_admin
from lms.certificates.errors import (
    REVOKED_NO_PDF,
    SUPERSEDED_DOWNLOAD_NEW,
    CertificateRevoked,
    CertificateSuperseded,
    FontNotEmbedded,
)
from lms.certificates.fonts import CertificateFont, certificate_font
from lms.certificates.models import Certificate
from lms.certificates.services import visible_certificate
from lms.certificates.snapshot import local_day, verify_url
from lms.core import bulk
from lms.core.db import utcnow
from lms.core.downloads import sanitize_filename
from lms.core.errors import NotFound
from lms.core.storage import (
    Storage,
    delete_unless_committed,
    delete_when_committed,
    get_storage,
)
from lms.extensions import db

PAGE = landscape(A4)
RED = HexColor("#8b1a1a")
GOLD = HexColor("#b8862b")
INK = HexColor("#222222")
GREY = HexColor("#555555")
BODY_BOTTOM = 190  # the footer's first line is below
QR_SIZE = 96  # points: 34 mm, comfortably scannable on paper
QR_MARK = "LmsVerifyQR"  # marked-content tag around the QR code's drawing
ENSURE_BATCH = 100
ZIP_CHUNK = 64 * 1024
PDF_MIMETYPE = "application/pdf"
ZIP_MIMETYPE = "application/zip"


# --- rendering -------------------------------------------------------------------------------


def render_certificate_pdf(certificate: Certificate, font: CertificateFont | None = None) -> bytes:
    """The bilingual certificate (A4 landscape) as PDF bytes, from its snapshot only, in
    ``font`` (default: this app's certificate font)."""
    font = (font or certificate_font()).name
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1, lang="zh-CN", pageCompression=1)
    _set_metadata(canvas, certificate)
    _frame(canvas)
    _heading(canvas, font, certificate.snapshot)
    _body(canvas, font, certificate.snapshot)
    _footer(canvas, font, certificate)
    url = verify_url(certificate.verify_code)
    _qr_code(canvas, url, x=PAGE[0] - 70 - QR_SIZE, y=88)
    _text(canvas, font, 8, PAGE[0] - 70 - QR_SIZE / 2, 76, "扫码验证 Scan to verify", "centre")
    _text(canvas, font, 8, 70, 52, f"在线验证 Verify online: {url}", "left", GREY)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _set_metadata(canvas: Canvas, certificate: Certificate) -> None:
    snap = certificate.snapshot
    canvas.setTitle(f"{snap.get('certificate_title') or '结业证书'} {certificate.serial}")
    canvas.setAuthor(snap.get("issuer") or "")
    canvas.setSubject(f"{snap.get('course_title', '')} — {snap.get('holder_name', '')}")
    canvas.setKeywords(certificate.serial)
    canvas.setCreator("LMS certificates")
    # invariant=1 fixes the document ID and dates; make the dates say when it was issued.
    # (reportlab offers no public setter: its TimeStamp is replaced before saving.)
    stamp = canvas._doc._timeStamp
    moment = _utc(certificate.issued_at).timestamp()
    stamp.t, stamp.lt = moment, time.gmtime(moment)
    stamp.YMDhms = tuple(stamp.lt)[:6]


def _frame(canvas: Canvas) -> None:
    width, height = PAGE
    canvas.setStrokeColor(RED)
    canvas.setLineWidth(3)
    canvas.rect(22, 22, width - 44, height - 44)
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(1)
    canvas.rect(30, 30, width - 60, height - 60)


def _heading(canvas: Canvas, font: str, snap: dict) -> None:
    width, height = PAGE
    centre = width / 2
    _text(canvas, font, 34, centre, height - 100, snap.get("certificate_title") or "结业证书")
    canvas.setFillColor(GOLD)
    canvas.setFont(font, 13)
    canvas.drawCentredString(centre, height - 124, "CERTIFICATE  OF  COMPLETION", charSpace=1.5)
    _text(canvas, font, 30, centre, height - 182, snap.get("holder_name") or "", color=RED)
    if snap.get("holder_name_en"):
        _text(canvas, font, 15, centre, height - 206, snap["holder_name_en"])
    if snap.get("institution"):
        line = f"工作单位 Institution：{snap['institution']}"
        _text(canvas, font, 11, centre, height - 230, line, color=GREY)


def _body(canvas: Canvas, font: str, snap: dict) -> None:
    """The two sentences, in smaller type when long titles would reach the footer."""
    width, height = PAGE
    top, room = height - 250, height - 250 - BODY_BOTTOM
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
        chinese = _wrapped(canvas, font, 13.5 * scale, 22 * scale, _chinese_body(snap))
        english = _wrapped(canvas, font, 11.5 * scale, 16 * scale, _english_body(snap))
        if chinese.height + english.height + 6 <= room:
            break
    chinese.drawOn(canvas, 100, top - chinese.height)
    english.drawOn(canvas, 100, top - chinese.height - 6 - english.height)


def _chinese_body(snap: dict) -> str:
    start, end = _date(snap.get("starts_on")), _date(snap.get("ends_on"))
    where = f"在{snap['location']}" if snap.get("location") else ""
    programme = snap.get("program_title") or ""
    course = snap.get("course_title") or ""
    return (
        f"于{_zh_date(start)}至{_zh_date(end)}{where}参加{programme}「{course}」"
        f"研修，完成理论{_hours(snap.get('theory_hours'))}学时、"
        f"实训{_hours(snap.get('practical_hours'))}学时，"
        f"共计{_hours(snap.get('total_hours'))}学时，考核合格，特发此证。"
    )


def _english_body(snap: dict) -> str:
    start, end = _date(snap.get("starts_on")), _date(snap.get("ends_on"))
    programme = f" of the programme “{snap['program_title']}”" if snap.get("program_title") else ""
    where = f" in {snap['location']}" if snap.get("location") else ""
    return (
        f"has completed the course “{snap.get('course_title', '')}”{programme}, held{where} "
        f"from {_en_date(start)} to {_en_date(end)}: "
        f"{_hours(snap.get('theory_hours'))} theory hours and "
        f"{_hours(snap.get('practical_hours'))} practical hours, "
        f"{_hours(snap.get('total_hours'))} hours (学时) in total."
    )


def _footer(canvas: Canvas, font: str, certificate: Certificate) -> None:
    snap = certificate.snapshot
    issued = local_day(certificate.issued_at, snap)
    left = [
        ("主办单位 Organisers", "、".join(snap.get("organizers") or [])),
        ("承办单位 Host", snap.get("host_institution")),
        ("证书编号 Serial No.", certificate.serial),
    ]
    if certificate.expires_at:
        expires = local_day(certificate.expires_at, snap)
        left.append(("有效期至 Valid until", f"{_zh_date(expires)} / {_en_date(expires)}"))
    right = [
        ("发证单位 Issuer", snap.get("issuer")),
        ("负责人 Signatory", snap.get("signatory")),
        ("发证日期 Date of issue", f"{_zh_date(issued)} / {_en_date(issued)}"),
    ]
    _labelled_lines(canvas, font, 70, 176, 310, left)
    _labelled_lines(canvas, font, 396, 176, 276, right)


def _labelled_lines(canvas, font, x, top, width, lines) -> None:
    for label, value in lines:
        if value:
            top -= _paragraph(canvas, font, 9.5, 13, x, top, width, f"{label}：{value}")
            top -= 4


def _qr_code(canvas: Canvas, url: str, *, x: float, y: float) -> None:
    """The QR code as vector rectangles (one per run of dark modules, in module units)
    inside a marked-content sequence, so that it stays sharp and can be checked."""
    matrix = segno.make(url, error="m", micro=False).matrix
    size = len(matrix)
    canvas.saveState()
    canvas.addLiteral(f"/{QR_MARK} BMC")
    canvas.translate(x, y)
    canvas.scale(QR_SIZE / size, QR_SIZE / size)
    canvas.setFillColor(HexColor("#000000"))
    for row_no, row in enumerate(matrix):
        for start, length in _dark_runs(row):
            canvas.rect(start, size - 1 - row_no, length, 1, stroke=0, fill=1)
    canvas.addLiteral("EMC")
    canvas.restoreState()


def _dark_runs(row) -> Iterator[tuple[int, int]]:
    start = None
    for col, dark in enumerate([*row, 0]):
        if dark and start is None:
            start = col
        elif not dark and start is not None:
            yield start, col - start
            start = None


def _text(canvas, font, size, x, y, text, align="centre", color=INK) -> None:
    canvas.setFillColor(color)
    canvas.setFont(font, size)
    if align == "centre":
        canvas.drawCentredString(x, y, text)
    else:
        canvas.drawString(x, y, text)


def _paragraph(canvas, font, size, leading, x, top, width, text) -> float:
    """Draw wrapped text from ``top`` down; return its height."""
    paragraph = _wrapped(canvas, font, size, leading, text, width)
    paragraph.drawOn(canvas, x, top - paragraph.height)
    return paragraph.height


def _wrapped(canvas, font, size, leading, text, width=PAGE[0] - 200) -> Paragraph:
    """``text`` as a paragraph wrapped to ``width`` (Chinese wraps between any characters)."""
    style = ParagraphStyle(
        "cert", fontName=font, fontSize=size, leading=leading, textColor=INK, wordWrap="CJK"
    )
    paragraph = Paragraph(escape(text), style)
    _, paragraph.height = paragraph.wrapOn(canvas, width, PAGE[1])
    return paragraph


def _date(value) -> date | None:
    return date.fromisoformat(value) if value else None


def _zh_date(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def _en_date(day: date | None) -> str:
    return f"{day.day} {day:%B} {day.year}" if day else ""


def _hours(value) -> str:
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _utc(moment: datetime) -> datetime:
    """Stored datetimes are UTC; SQLite hands them back naive."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- storing once ----------------------------------------------------------------------------


def ensure_pdf(certificate: Certificate) -> tuple[str, str]:
    """The certificate's stored PDF as ``(key, sha256)``, rendering and storing it the first
    time. Flushes, never commits; the file is deleted if the transaction does not commit."""
    if certificate.pdf_key:
        return certificate.pdf_key, certificate.pdf_sha256
    storage = get_storage()
    stored, record = _render_and_store(storage, certificate)
    won = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id, Certificate.pdf_key.is_(None))
        .values(record)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        for column, value in record.items():
            set_committed_value(certificate, column, value)
    else:  # a concurrent request stored its PDF first: keep theirs
        storage.delete(stored.key)
        db.session.refresh(certificate, list(record))
    return certificate.pdf_key, certificate.pdf_sha256


def _render_and_store(
    storage: Storage, certificate: Certificate, font: CertificateFont | None = None
):
    """Render and store the PDF (deleted unless the transaction commits); the stored file
    and the columns that record it and how it was rendered."""
    font = font or certificate_font()
    data = render_certificate_pdf(certificate, font)
    stored = storage.save(io.BytesIO(data), suffix=".pdf")
    delete_unless_committed(db.session, storage, stored.key)
    record = {
        "pdf_key": stored.key,
        "pdf_sha256": stored.sha256,
        "pdf_font": font.label,
        "pdf_font_embedded": font.embedded,
        "pdf_rendered_at": utcnow(),
    }
    return stored, record


def rerender_pdf(certificate: Certificate, *, actor) -> Certificate:
    """Render the certificate's PDF again from its frozen snapshot with the current font
    and store it under a new key (same serial, same text); the old file is deleted once
    this commits. Audited as ``certificate.pdf_rendered`` with the old and the new font.
    Any status: admins download revoked and superseded PDFs too, so their archive copy
    must be readable. 409 when the current font is not embeddable either."""
    font = certificate_font()
    if not font.embedded:
        raise FontNotEmbedded()
    db.session.refresh(certificate, with_for_update=True)  # one re-render at a time
    before = {"font": certificate.pdf_font, "font_embedded": certificate.pdf_font_embedded}
    old_key, storage = certificate.pdf_key, get_storage()
    stored, record = _render_and_store(storage, certificate, font)
    for column, value in record.items():
        setattr(certificate, column, value)
    db.session.flush()
    if old_key:
        delete_when_committed(db.session, storage, old_key)
    audit.record(
        "certificate.pdf_rendered",
        "certificate",
        certificate.id,
        actor=actor,
        data={
            "serial": certificate.serial,
            "old": before,
            "new": {"font": font.label, "font_embedded": True},
            "sha256": stored.sha256,
        },
    )
    return certificate


def downloadable_certificate(serial: str, user) -> Certificate:
    """The certificate whose PDF ``user`` may download (see the module docstring)."""
    certificate = visible_certificate(serial, user)  # 404 unless the holder or an admin
    if is_admin(user) or certificate.status == "valid":
        return certificate
    if certificate.status == "superseded":
        replacement = db.session.get(Certificate, certificate.replaced_by_id)
        raise CertificateSuperseded(
            *SUPERSEDED_DOWNLOAD_NEW, replaced_by=replacement.serial if replacement else None
        )
    raise CertificateRevoked(*REVOKED_NO_PDF)


def pdf_filename(certificate: Certificate) -> str:
    return f"{certificate.serial}.pdf"


# --- the course ZIP --------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipEntry:
    name: str
    key: str
    issued_at: datetime


def course_zip_entries(course_id: int) -> list[ZipEntry]:
    """The course's valid certificates as ZIP entries, by serial, each PDF ensured first
    (the missing ones rendered and stored a batch at a time). 404 for an unknown course."""
    if db.session.get(Course, course_id) is None:
        raise NotFound()
    valid = (Certificate.course_id == course_id, Certificate.status == "valid")
    missing = db.session.scalars(
        select(Certificate.id).where(*valid, Certificate.pdf_key.is_(None))
    ).all()
    for batch in bulk.chunked(missing, ENSURE_BATCH):
        for certificate in db.session.scalars(
            select(Certificate).where(bulk.among(Certificate.id, batch))
        ).all():
            ensure_pdf(certificate)
            db.session.expunge(certificate)  # keeps the identity map small
    rows = db.session.execute(
        select(
            Certificate.serial,
            Certificate.snapshot["holder_name"].as_string(),
            Certificate.pdf_key,
            Certificate.issued_at,
        )
        .where(*valid, Certificate.pdf_key.is_not(None))
        .order_by(Certificate.serial)
    )
    return [
        ZipEntry(zip_entry_name(serial, name or ""), key, issued_at)
        for serial, name, key, issued_at in rows
    ]


def zip_entry_name(serial: str, holder_name: str) -> str:
    """``<serial>_<holder name>.pdf``, safe as a file name on every system."""
    holder_name = re.sub(r"[/\\]", "_", holder_name[:60])  # not a path: one name
    return sanitize_filename(f"{serial}_{holder_name}.pdf")


class _Chunks:
    """A write-only, unseekable sink: zipfile then writes data descriptors after each entry,
    and what it wrote so far is taken out chunk by chunk."""

    def __init__(self):
        self._buffer = bytearray()

    def write(self, data) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def zip_chunks(storage: Storage, entries: Iterable[ZipEntry]) -> Iterator[bytes]:
    """The ZIP archive, produced while it is sent: one stored PDF open at a time, at most
    a chunk of it in memory. Needs no database session (Flask 3.1 closes the view's before
    a streamed body is read)."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=_utc(entry.issued_at).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with storage.open(entry.key) as source, archive.open(info, "w") as target:
                while chunk := source.read(ZIP_CHUNK):
                    target.write(chunk)
                    if data := sink.take():
                        yield data
            yield sink.take()
    yield sink.take()


def zip_filename(course_id: int) -> str:
    course = db.session.get(Course, course_id)
    return sanitize_filename(f"{course.code}-certificates.zip")

"""What a certificate states, frozen at issue, and its public verification link."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from pypinyin import Style, lazy_pinyin

from lms.accounts.models import User
from lms.catalog.models import Course

COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 "
    "令狐 夏侯 司徒 长孙 宇文 端木 西门 南宫 澹台".split()
)
# Surnames read differently from the same character in ordinary words.
SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "覃": "qin",
    "翟": "zhai",
    "乐": "yue",
    "缪": "miao",
    "秘": "bi",
    "种": "chong",
    "盖": "ge",
    "华": "hua",
}


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore"))


def english_name(user: User) -> str:
    """``full_name_en``, or the pinyin of the Chinese name, surname first as on a passport:
    李明 -> "Li Ming", 欧阳娜 -> "Ouyang Na", 曾国 -> "Zeng Guo"."""
    if user.full_name_en:
        return user.full_name_en
    name = user.full_name.strip()
    cut = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    surname = SURNAME_READINGS.get(name[:cut]) or _pinyin(name[:cut])
    given = _pinyin(name[cut:])
    if not surname:
        return name  # not a Chinese name: keep it as written
    return " ".join(part.capitalize() for part in (surname, given) if part)


def local_day(moment: datetime, snapshot: dict) -> date:
    """The day ``moment`` falls on in the course's time zone, as the certificate states it
    (its issue and expiry dates); UTC for certificates frozen before courses had a zone,
    so that their PDFs and verification read as they always did."""
    if moment.tzinfo is None:  # SQLite hands stored UTC back naive to Core queries
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(snapshot.get("time_zone") or "UTC")).date()


def build_snapshot(
    user: User, course: Course, *, theory_hours: Decimal, practical_hours: Decimal
) -> dict:
    """The facts a certificate certifies (JSON-ready), as they are at issue time."""
    program = course.program
    return {
        "holder_name": user.full_name,
        "holder_name_en": english_name(user),
        "holder_email": user.email,
        "institution": user.institution,
        "course_code": course.code,
        "course_title": course.title,
        "program_title": program.title if program else None,
        "host_institution": course.host_institution,
        "organizers": list(course.organizers or []),
        "location": course.location,
        "starts_on": course.starts_on.isoformat(),
        "ends_on": course.ends_on.isoformat(),
        "theory_hours": float(theory_hours),
        "practical_hours": float(practical_hours),
        "total_hours": float(theory_hours + practical_hours),
        "certificate_title": course.certificate_title or "结业证书",
        "issuer": course.certificate_issuer or course.host_institution or "",
        "signatory": course.certificate_signatory,
        "time_zone": course.time_zone,
    }


def verify_url(verify_code: str) -> str:
    """The public page a certificate's QR code points to."""
    return f"{current_app.config['LMS_BASE_URL']}/verify/{verify_code}"


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now

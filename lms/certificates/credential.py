"""A certificate as an Open Badges 3.0 OpenBadgeCredential (W3C VC Data Model 2.0).

Everything the credential states comes from the certificate's frozen snapshot, so it never
changes after issue; the holder's email appears only salted and hashed (an OB 3.0
IdentityObject). The credential's ``id`` is the certificate's public verification link,
the one its QR code carries.

Who gets what (decided here, see ``credential_for``): the holder and admins read the
credential of a valid certificate (expired ones included: ``validUntil`` says so). A
revoked or superseded certificate is served to admins only, its ``credentialStatus``
saying which (and the replacement's serial); its holder gets 409. Signing (the VC-JWT)
is refused for revoked and superseded certificates, whoever asks: a signature would make
a withdrawn statement look verifiable.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from flask import current_app

from lms.accounts.models import User
from lms.catalog.permissions import is_admin
from lms.certificates.errors import (
    REVOKED_NO_CREDENTIAL,
    SUPERSEDED_USE_NEW_CREDENTIAL,
    CertificateRevoked,
    CertificateSuperseded,
)
from lms.certificates.models import Certificate
from lms.certificates.snapshot import verify_url
from lms.extensions import db

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
CREDENTIAL_SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/"
    "ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}
# Not a registered status method: the link answers the certificate's current status
# (GET /api/v1/verify/{code}); the type names that lookup for readers of the credential.
STATUS_TYPE = "LmsCertificateVerification"
PLATFORM_NAME = "双师型教师培训平台 Dual-qualified Teacher Training"
CRITERIA = (
    "完成研修班全部必修理论模块（设有测验的须通过测验），通过全部必修实践任务，"
    "且理论学时与实践学时均达到研修班规定的最低学时。\n\n"
    "Complete every required theory module of the course (passing its quiz where it has "
    "one), pass every required practical assignment, and reach the course's minimum "
    "theory and practical hours."
)


def ensure_valid(certificate: Certificate) -> None:
    """Refuse (409) a revoked or a superseded certificate (naming its replacement), with
    the same problem codes as the PDF download."""
    if certificate.status == "superseded":
        raise CertificateSuperseded(
            *SUPERSEDED_USE_NEW_CREDENTIAL, replaced_by=_replacement_serial(certificate)
        )
    if certificate.status != "valid":
        raise CertificateRevoked(*REVOKED_NO_CREDENTIAL)


def credential_for(certificate: Certificate, user: User) -> dict:
    """The credential ``user`` may read: valid certificates for the holder, any for admins
    (``certificate`` comes from ``services.visible_certificate``: holder or admin)."""
    if not is_admin(user):
        ensure_valid(certificate)
    return build_credential(certificate)


def issuer_profile() -> dict:
    """The issuer's OB 3.0 Profile: the platform, which signs every credential. The same
    object is served at its id (GET /api/v1/issuer) and embedded in each credential, so
    both carry the same name; the awarding body a certificate names is the achievement's
    ``creator`` (``awarding_body``)."""
    base = current_app.config["LMS_BASE_URL"]
    return {
        "id": f"{base}/api/v1/issuer",
        "type": ["Profile"],
        "name": PLATFORM_NAME,
        "url": base,
    }


def awarding_body(name: str | None, official: str | None) -> dict | None:
    """The institution that awards the certificate (its ``certificate_issuer``) as an OB 3.0
    Profile with a stable id per name, and its signatory as ``official``; None without one."""
    if not name:
        return None
    base = current_app.config["LMS_BASE_URL"]
    body_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/awarding-bodies/{name}")
    profile = {"id": f"urn:uuid:{body_id}", "type": ["Profile"], "name": name}
    if official:
        profile["official"] = official
    return profile


def build_credential(certificate: Certificate) -> dict:
    """The OpenBadgeCredential of ``certificate``, unsigned."""
    snap = certificate.snapshot
    credential = {
        "@context": CONTEXT,
        "id": verify_url(certificate.verify_code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": snap.get("certificate_title") or "结业证书",
        "description": _credential_description(snap),
        "issuer": issuer_profile(),
        "validFrom": timestamp(certificate.issued_at),
        "awardedDate": timestamp(certificate.issued_at),
        "credentialSubject": _subject(certificate),
        "credentialSchema": [CREDENTIAL_SCHEMA],
        "credentialStatus": _status(certificate),
    }
    if certificate.expires_at is not None:
        credential["validUntil"] = timestamp(certificate.expires_at)
    return credential


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z, to the second (a DateTimeZ)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_hash(email: str, salt: str) -> str:
    """OB 3.0 IdentityHash of an email: ``sha256$`` + hex SHA-256 of email then salt."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return f"sha256${digest}"


def _salt(certificate: Certificate) -> str:
    # Stable per certificate (the credential, and its signature, stay the same bytes) and
    # different between certificates, so hashes cannot be correlated across credentials.
    # A salt is public by design: it is printed next to the hash.
    return hashlib.sha256(f"lms-identity-salt:{certificate.verify_code}".encode()).hexdigest()[:32]


def _subject(certificate: Certificate) -> dict:
    snap = certificate.snapshot
    salt = _salt(certificate)
    return {
        "type": ["AchievementSubject"],
        "name": snap["holder_name"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(snap["holder_email"], salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            },
            {
                "type": "IdentityObject",
                "identityHash": snap["holder_name"],
                "identityType": "name",
                "hashed": False,
            },
        ],
        "creditsEarned": float(snap.get("total_hours") or 0),
        "achievement": _achievement(snap),
    }


def _achievement(snap: dict) -> dict:
    base = current_app.config["LMS_BASE_URL"]
    # One id per course offering, the same in every credential awarded for it.
    achievement_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/achievements/{snap['course_code']}")
    achievement = {
        "id": f"urn:uuid:{achievement_id}",
        "type": ["Achievement"],
        "achievementType": "CertificateOfCompletion",
        "name": snap["course_title"],
        "description": _achievement_description(snap),
        "criteria": {"narrative": CRITERIA},
        "humanCode": snap["course_code"],
    }
    creator = awarding_body(snap.get("issuer"), snap.get("signatory"))
    if creator:
        achievement["creator"] = creator
    return achievement


def _hours(value) -> str:
    return f"{float(value or 0):g}"


def _credential_description(snap: dict) -> str:
    theory, practical = _hours(snap.get("theory_hours")), _hours(snap.get("practical_hours"))
    total = _hours(snap.get("total_hours"))
    institution = snap.get("institution")
    holder_zh = f"{snap['holder_name']}（{institution}）" if institution else snap["holder_name"]
    holder_en = snap.get("holder_name_en") or snap["holder_name"]
    if institution:
        holder_en = f"{holder_en} ({institution})"
    return (
        f"{holder_zh}完成“{snap['course_title']}”研修，"
        f"理论 {theory} 学时，实践 {practical} 学时，共 {total} 学时。\n"
        f"{holder_en} completed the course “{snap['course_title']}”: "
        f"{theory} theory hours, {practical} practical hours, {total} hours in total."
    )


def _achievement_description(snap: dict) -> str:
    zh = [f"研修班“{snap['course_title']}”"]
    en = [f"Teacher training course “{snap['course_title']}”"]
    if snap.get("program_title"):
        zh.append(f"所属项目“{snap['program_title']}”")
        en.append(f"programme “{snap['program_title']}”")
    if snap.get("organizers"):
        zh.append(f"主办：{'、'.join(snap['organizers'])}")
        en.append(f"organised by {', '.join(snap['organizers'])}")
    if snap.get("host_institution"):
        zh.append(f"承办：{snap['host_institution']}")
        en.append(f"hosted by {snap['host_institution']}")
    if snap.get("location"):
        zh.append(f"地点：{snap['location']}")
        en.append(f"in {snap['location']}")
    zh.append(f"{snap['starts_on']} 至 {snap['ends_on']}")
    en.append(f"from {snap['starts_on']} to {snap['ends_on']}")
    return "，".join(zh) + "。\n" + "; ".join(en) + "."


def _replacement_serial(certificate: Certificate) -> str | None:
    if certificate.replaced_by_id is None:
        return None
    replacement = db.session.get(Certificate, certificate.replaced_by_id)
    return replacement.serial if replacement is not None else None


def _status(certificate: Certificate) -> dict:
    base = current_app.config["LMS_BASE_URL"]
    status = {"id": f"{base}/api/v1/verify/{certificate.verify_code}", "type": STATUS_TYPE}
    if certificate.status != "valid":  # only admins see these (see credential_for)
        status["status"] = certificate.status
        replacement = _replacement_serial(certificate)
        if replacement:
            status["replacedBy"] = replacement
    return status

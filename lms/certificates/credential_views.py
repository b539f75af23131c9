"""Open Badges 3.0 credentials, VC-JWT and the issuer's JWKS."""

from __future__ import annotations

import json

from flask import Response
from flask_smorest import Blueprint

from lms.certificates import credential, services, signing
from lms.core.api import JSON_OBJECT
from lms.core.auth import actor, load

blp = Blueprint(
    "credentials",
    __name__,
    url_prefix="/api/v1",
    description="Open Badges 3.0 credentials, VC-JWT and the issuer's JWKS.",
)
# A bad or missing signing key stops the app when it starts, not at the first download.
blp.record_once(lambda state: signing.init_signing(state.app))

CREDENTIAL_MEDIA_TYPE = "application/ld+json"
JWKS_MEDIA_TYPE = "application/jwk-set+json"
PUBLIC_CACHE = "public, max-age=3600"
NOT_VALID_409 = (
    "The certificate is revoked (``certificate-revoked``) or superseded "
    "(``certificate-superseded``, with ``replaced_by``)."
)


def _json(document: dict, mimetype: str) -> Response:
    # Insertion order kept ("@context" first) and Chinese left readable.
    return Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype=mimetype)


@blp.route("/certificates/<string:serial>/credential")
@load(certificate=("serial", services.visible_certificate))
@blp.response(
    200,
    JSON_OBJECT,
    content_type=CREDENTIAL_MEDIA_TYPE,
    description="An OpenBadgeCredential (Open Badges 3.0, W3C VC Data Model 2.0), unsigned. "
    "Admins also get revoked and superseded certificates, with ``credentialStatus.status``.",
)
@blp.alt_response(409, description=f"Asked by the holder: {NOT_VALID_409}")
def certificate_credential(certificate):
    """The certificate as an Open Badges 3.0 credential (the holder or an admin; 404 for
    anyone else). The holder's email appears only salted and hashed."""
    return _json(credential.credential_for(certificate, actor()), CREDENTIAL_MEDIA_TYPE)


@blp.route("/certificates/<string:serial>/credential.jwt")
@load(certificate=("serial", services.visible_certificate))
@blp.response(
    200,
    {"type": "string"},
    content_type=signing.JWT_MEDIA_TYPE,
    description="The credential as a compact VC-JWT: header ``alg`` EdDSA, ``typ`` vc+jwt, "
    "``kid`` from /api/v1/issuer/jwks.json; the payload is the credential with iss, sub, "
    "jti, iat, nbf (and exp when it expires).",
)
@blp.alt_response(409, description=f"{NOT_VALID_409} Nothing is signed for them.")
def certificate_credential_jwt(certificate):
    """The credential signed as a VC-JWT with the issuer's Ed25519 key (holder or admin)."""
    credential.ensure_valid(certificate)
    token = signing.sign_credential(credential.build_credential(certificate))
    return Response(token, mimetype=signing.JWT_MEDIA_TYPE)


@blp.route("/issuer")
@blp.doc(security=[])
@blp.response(
    200, JSON_OBJECT, content_type=CREDENTIAL_MEDIA_TYPE, description="An OB 3.0 Profile."
)
def issuer():
    """The issuer's profile, the ``issuer.id`` of every credential (public). Each
    credential names the awarding institution; this is the platform that signs for it."""
    response = _json(credential.issuer_profile(), CREDENTIAL_MEDIA_TYPE)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


@blp.route("/issuer/jwks.json")
@blp.doc(security=[])
@blp.response(
    200,
    JSON_OBJECT,
    content_type=JWKS_MEDIA_TYPE,
    description="JWK Set (RFC 7517) with the Ed25519 public key (RFC 8037); ``kid`` is its "
    "RFC 7638 thumbprint.",
)
def issuer_jwks():
    """The public keys that verify credential JWTs (public, cacheable for an hour)."""
    response = _json(signing.jwks(), JWKS_MEDIA_TYPE)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response

"""The issuer's Ed25519 key: loading, the published JWKS, and VC-JWT signing.

``LMS_SIGNING_KEY`` names a PEM (PKCS#8) Ed25519 private key file; config.py generates one
in development and refuses to start production without it. Tests (``LMS_ENV=testing``
without a key file) get an ephemeral key per app. The key is loaded once per app, when the
credentials blueprint is registered, so that a bad key stops the app at startup rather
than failing the first download.

Credentials are signed as VC-JWT in the style of W3C VC-JOSE-COSE: the JWT payload *is*
the credential, plus the registered claims a JOSE verifier checks (iss, sub, jti, iat,
nbf, exp), taken from the credential itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app

from config import ConfigError

EXTENSION = "lms_signing_key"
JWT_ALGORITHM = "EdDSA"
JWT_TYPE = "vc+jwt"
JWT_MEDIA_TYPE = "application/vc+jwt"


@dataclass(frozen=True)
class SigningKey:
    """The private key with its public JWK and key id (RFC 7638 thumbprint)."""

    private_key: Ed25519PrivateKey
    public_jwk: dict
    kid: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint of an OKP public key: SHA-256 over its required members
    (crv, kty, x), in lexicographic order and without whitespace, base64url-encoded."""
    required = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def signing_key_from(private_key: Ed25519PrivateKey) -> SigningKey:
    """Wrap a private key with its public JWK (RFC 8037) and key id."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    kid = jwk_thumbprint(jwk)
    return SigningKey(private_key, {**jwk, "kid": kid, "use": "sig", "alg": JWT_ALGORITHM}, kid)


def load_private_key(path: str) -> Ed25519PrivateKey:
    """Read an unencrypted PEM (PKCS#8) Ed25519 private key; ConfigError on anything else."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"LMS_SIGNING_KEY: cannot read {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"LMS_SIGNING_KEY: {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"LMS_SIGNING_KEY: {path} holds a {type(key).__name__}, not an "
            "Ed25519 key; make one with: openssl genpkey -algorithm ed25519"
        )
    return key


def write_private_key(path: str | Path) -> None:
    """A new Ed25519 key at ``path`` as PKCS#8 PEM, created with mode 0600 from the start
    (FileExistsError if the file exists: a key is never overwritten)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(pem)


def init_signing(app: Flask) -> SigningKey:
    """Load the app's signing key once (an ephemeral one in tests without a key file)."""
    if EXTENSION not in app.extensions:
        path = app.config.get("LMS_SIGNING_KEY") or ""
        if path:
            private_key = load_private_key(path)
        elif app.config.get("LMS_ENV") == "testing":
            private_key = Ed25519PrivateKey.generate()
        else:
            raise ConfigError("LMS_SIGNING_KEY is not set (path to an Ed25519 private key)")
        app.extensions[EXTENSION] = signing_key_from(private_key)
    return app.extensions[EXTENSION]


def current_signing_key() -> SigningKey:
    """The signing key of the current app."""
    return init_signing(current_app)


def jwks() -> dict:
    """The issuer's public keys as a JWK Set (RFC 7517)."""
    return {"keys": [current_signing_key().public_jwk]}


def _numeric_date(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp())


def _subject(credential: dict) -> str:
    subject = credential["credentialSubject"]
    if "id" in subject:
        return subject["id"]
    return subject["identifier"][0]["identityHash"]


def sign_credential(credential: dict) -> str:
    """The credential as a compact VC-JWT (EdDSA over Ed25519).

    ``iat`` and ``nbf`` are the credential's ``validFrom`` (its issue time), not the time of
    the download: the same credential always signs to the same bytes (Ed25519 signatures
    are deterministic), as the stored PDF does.
    """
    issued = _numeric_date(credential["validFrom"])
    claims = {
        "iss": credential["issuer"]["id"],
        "sub": _subject(credential),
        "jti": credential["id"],
        "iat": issued,
        "nbf": issued,
    }
    if credential.get("validUntil"):
        claims["exp"] = _numeric_date(credential["validUntil"])
    key = current_signing_key()
    return jwt.encode(
        {**credential, **claims},
        key.private_key,
        algorithm=JWT_ALGORITHM,
        headers={"kid": key.kid, "typ": JWT_TYPE},
    )

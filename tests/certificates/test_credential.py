"""Open Badges 3.0 credentials, their VC-JWT, the issuer's JWKS and the signing key."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from jsonschema import Draft201909Validator
from referencing import Registry
from referencing.exceptions import NoSuchResource

from config import ConfigError
from lms.certificates import signing
from lms.extensions import db
from tests.http import ApiClient, assert_problem, certificate_course, client_for, issued_certificate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_NAME = "ob_v3p0_achievementcredential_schema.json"
SHARED_SCHEMA = ROOT.parent / "shared" / "specs" / SCHEMA_NAME
VENDORED_SCHEMA = ROOT / "tests" / "specs" / SCHEMA_NAME
# The specification as shared with the project; the vendored copy where shared/ is absent.
SCHEMA_PATH = SHARED_SCHEMA if SHARED_SCHEMA.exists() else VENDORED_SCHEMA


def test_the_vendored_schema_is_the_shared_one_unchanged():
    if not SHARED_SCHEMA.exists():
        pytest.skip("shared/specs is not beside this checkout")
    assert VENDORED_SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes()


EMAIL = "li.ming@example.edu.cn"
DATE_TIME_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _no_network(uri: str):
    raise NoSuchResource(ref=uri)  # every $ref must resolve inside the schema file


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(
        schema,
        registry=Registry(retrieve=_no_network),
        format_checker=Draft201909Validator.FORMAT_CHECKER,
    )


def schema_errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


@pytest.fixture
def setup(admin_client, users):
    """A valid certificate of 李明 (2 theory hours) at the Guangzhou course."""
    return issued_certificate(
        admin_client, users, email=EMAIL, full_name="李明", institution="南京工业职业技术大学"
    )


@pytest.fixture
def holder(app, setup) -> ApiClient:
    return client_for(app, setup["user"])


def credential_url(setup, suffix: str = "") -> str:
    return f"/api/v1/certificates/{setup['certificate']['serial']}/credential{suffix}"


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def published_key(client):
    """The verification key as a relying party gets it: from the public JWKS."""
    response = client.get("/api/v1/issuer/jwks.json")
    assert response.status_code == 200
    (jwk,) = response.get_json()["keys"]
    return jwk, jwt.PyJWK(jwk)


# --- the credential ----------------------------------------------------------------------------


def test_credential_validates_against_the_1edtech_schema(holder, setup, validator):
    response = holder.get(credential_url(setup))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/ld+json"
    document = response.get_json()
    errors = schema_errors(validator, document)
    assert not errors, "\n".join(errors)
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_credential_states_holder_course_hours_and_issue_date(holder, setup):
    document = holder.get(credential_url(setup)).get_json()
    certificate = setup["certificate"]
    subject = document["credentialSubject"]
    assert subject["name"] == "李明"
    assert {"type": "IdentityObject", "identityType": "name", "hashed": False} | {
        "identityHash": "李明"
    } in subject["identifier"]
    assert subject["achievement"]["name"] == "工业互联网产教融合教师研修·广州站"
    assert subject["achievement"]["achievementType"] == "CertificateOfCompletion"
    assert subject["achievement"]["humanCode"] == setup["course"]["code"]
    assert subject["achievement"]["criteria"]["narrative"]
    assert subject["creditsEarned"] == 2.0
    assert "理论 2 学时" in document["description"]
    assert "南京工业职业技术大学" in document["description"]
    issued_at = datetime.fromisoformat(certificate["issued_at"]).replace(microsecond=0)
    assert DATE_TIME_Z.match(document["validFrom"])
    assert datetime.fromisoformat(document["validFrom"]) == issued_at
    assert "validUntil" not in document  # the course gives no validity period
    assert document["id"] == certificate["verify_url"]
    assert document["issuer"]["type"] == ["Profile"]
    assert document["issuer"]["id"].endswith("/api/v1/issuer")
    assert subject["achievement"]["creator"]["name"] == "广东轻工职业技术学院"
    assert subject["achievement"]["creator"]["type"] == ["Profile"]
    assert document["credentialStatus"]["id"].endswith(
        "/api/v1/verify/" + certificate["verify_url"].rsplit("/", 1)[1]
    )
    assert "status" not in document["credentialStatus"]


def test_credential_never_contains_the_plain_email(holder, setup):
    response = holder.get(credential_url(setup))
    text = response.get_data(as_text=True)
    assert EMAIL.lower() not in text.lower()
    assert "example.edu.cn" not in text
    (hashed,) = [
        i
        for i in response.get_json()["credentialSubject"]["identifier"]
        if i["identityType"] == "emailAddress"
    ]
    assert hashed["hashed"] is True
    # A verifier who knows the address can check it (OB 3.0 IdentityHash: email + salt).
    expected = hashlib.sha256((EMAIL.lower() + hashed["salt"]).encode()).hexdigest()
    assert hashed["identityHash"] == f"sha256${expected}"


def test_credential_has_validuntil_when_the_certificate_expires(admin_client, users, validator):
    course = certificate_course(
        admin_client, certificate_validity_months=24, certificate_signatory="院长 张伟"
    )
    setup = issued_certificate(admin_client, users, course)
    document = admin_client.get(credential_url(setup)).get_json()
    assert not schema_errors(validator, document)
    assert document["credentialSubject"]["achievement"]["creator"]["official"] == "院长 张伟"
    assert DATE_TIME_Z.match(document["validUntil"])
    expires_at = datetime.fromisoformat(setup["certificate"]["expires_at"])
    assert datetime.fromisoformat(document["validUntil"]) == expires_at.replace(microsecond=0)

    token = admin_client.get(credential_url(setup, ".jwt")).get_data(as_text=True)
    _, key = published_key(admin_client)
    payload = jwt.decode(token, key.key, algorithms=["EdDSA"])
    assert payload["exp"] == int(expires_at.timestamp())


def test_credential_is_frozen_at_issue(holder, setup):
    before = holder.get(credential_url(setup)).get_json()
    user = setup["user"]
    user.full_name = "李明明"
    db.session.commit()
    assert holder.get(credential_url(setup)).get_json() == before


# --- the VC-JWT and the JWKS -----------------------------------------------------------------


def test_jwt_verifies_with_the_published_key(holder, anon, setup):
    credential = holder.get(credential_url(setup)).get_json()
    response = holder.get(credential_url(setup, ".jwt"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vc+jwt"
    token = response.get_data(as_text=True)

    jwk, key = published_key(anon)  # a relying party needs no account
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": jwk["kid"], "typ": "vc+jwt"}
    payload = jwt.decode(token, key.key, algorithms=["EdDSA"])

    claims = {name: payload.pop(name) for name in ("iss", "sub", "jti", "iat", "nbf")}
    assert payload == credential  # VC-JOSE-COSE: the payload is the credential
    assert claims["iss"] == credential["issuer"]["id"]
    assert claims["jti"] == credential["id"]
    assert claims["sub"].startswith("sha256$")
    assert claims["sub"] == credential["credentialSubject"]["identifier"][0]["identityHash"]
    valid_from = int(datetime.fromisoformat(credential["validFrom"]).timestamp())
    assert claims["nbf"] == claims["iat"] == valid_from
    assert EMAIL.lower() not in json.dumps(payload).lower()


def test_jwt_is_the_same_on_every_download(holder, setup):
    first = holder.get(credential_url(setup, ".jwt")).get_data()
    assert holder.get(credential_url(setup, ".jwt")).get_data() == first


def test_tampered_jwt_fails_verification(holder, anon, setup):
    token = holder.get(credential_url(setup, ".jwt")).get_data(as_text=True)
    _, key = published_key(anon)
    header, payload, signature = token.split(".")

    claims = json.loads(_b64url_decode(payload))
    claims["credentialSubject"]["name"] = "张三"
    forged = f"{header}.{_b64url_encode(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["EdDSA"])

    flipped = bytearray(_b64url_decode(signature))
    flipped[0] ^= 1
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{header}.{payload}.{_b64url_encode(bytes(flipped))}", key.key, ["EdDSA"])

    other = Ed25519PrivateKey.generate()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(jwt.encode(claims, other, algorithm="EdDSA"), key.key, algorithms=["EdDSA"])


def test_jwks_is_public_and_cacheable(anon):
    response = anon.get("/api/v1/issuer/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    (jwk,) = response.get_json()["keys"]
    assert {k: jwk[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert "d" not in jwk  # never the private part
    assert len(_b64url_decode(jwk["x"])) == 32
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}, separators=(",", ":"))
    assert jwk["kid"] == _b64url_encode(hashlib.sha256(canonical.encode()).digest())


def test_jwk_thumbprint_matches_rfc_8037():
    # RFC 8037, appendix A.3.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert signing.jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_issuer_profile_is_public(anon, app):
    response = anon.get("/api/v1/issuer")
    assert response.status_code == 200
    profile = response.get_json()
    base = app.config["LMS_BASE_URL"]
    assert profile["id"] == f"{base}/api/v1/issuer"
    assert profile["type"] == ["Profile"]
    assert profile["name"]
    assert profile["url"] == base
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_the_embedded_issuer_is_the_profile_served_at_its_id(holder, anon, setup):
    document = holder.get(credential_url(setup)).get_json()
    profile = anon.get("/api/v1/issuer").get_json()
    assert document["issuer"]["id"] == profile["id"]
    assert document["issuer"] == profile  # the same name, not the awarding body's
    assert document["credentialSubject"]["achievement"]["creator"]["name"] != profile["name"]


# --- who may read it -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".jwt"])
def test_holder_and_admin_read_the_credential(holder, admin_client, setup, suffix):
    assert holder.get(credential_url(setup, suffix)).status_code == 200
    assert admin_client.get(credential_url(setup, suffix)).status_code == 200


@pytest.mark.parametrize("suffix", ["", ".jwt"])
def test_teacher_cannot_read_another_teachers_credential(app, users, setup, suffix):
    for role in ("teacher", "instructor"):
        other = client_for(app, users.create(role=role))
        assert_problem(other.get(credential_url(setup, suffix)), 404)


@pytest.mark.parametrize("suffix", ["", ".jwt"])
def test_anonymous_caller_must_log_in(anon, setup, suffix):
    assert_problem(anon.get(credential_url(setup, suffix)), 401)


def test_unknown_serial_is_not_found(admin_client):
    assert_problem(admin_client.get("/api/v1/certificates/NOPE-2020-00001/credential"), 404)
    assert_problem(admin_client.get("/api/v1/certificates/NOPE-2020-00001/credential.jwt"), 404)


def test_revoked_certificate_is_served_to_admins_only_and_never_signed(
    holder, admin_client, setup, validator
):
    serial = setup["certificate"]["serial"]
    revoked = admin_client.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "作假"})
    assert revoked.status_code == 200, revoked.get_json()

    assert_problem(holder.get(credential_url(setup)), 409, "certificate-revoked")
    assert_problem(holder.get(credential_url(setup, ".jwt")), 409, "certificate-revoked")
    assert_problem(admin_client.get(credential_url(setup, ".jwt")), 409, "certificate-revoked")

    response = admin_client.get(credential_url(setup))
    assert response.status_code == 200
    document = response.get_json()
    assert document["credentialStatus"]["status"] == "revoked"
    assert not schema_errors(validator, document)


def test_superseded_certificate_points_at_its_replacement(holder, admin_client, setup):
    serial = setup["certificate"]["serial"]
    reissued = admin_client.post(f"/api/v1/certificates/{serial}/reissue", json={"reason": "改名"})
    assert reissued.status_code in (200, 201), reissued.get_json()
    new_serial = reissued.get_json()["serial"]
    assert new_serial != serial

    body = assert_problem(holder.get(credential_url(setup)), 409, "certificate-superseded")
    assert body["replaced_by"] == new_serial
    assert_problem(holder.get(credential_url(setup, ".jwt")), 409, "certificate-superseded")
    status = admin_client.get(credential_url(setup)).get_json()["credentialStatus"]
    assert status["status"] == "superseded"
    assert status["replacedBy"] == new_serial
    assert holder.get(f"/api/v1/certificates/{new_serial}/credential.jwt").status_code == 200


# --- the signing key -----------------------------------------------------------------------------


def test_production_refuses_to_start_without_signing_key(monkeypatch):
    from config import load_config

    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("LMS_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigError, match="LMS_SIGNING_KEY"):
        load_config("production")


def test_development_generates_a_private_key_once(monkeypatch, tmp_path):
    import config

    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("LMS_SIGNING_KEY", raising=False)
    path = Path(config.load_config("development")["LMS_SIGNING_KEY"])
    assert path.parent == tmp_path
    assert path.stat().st_mode & 0o777 == 0o600
    pem = path.read_bytes()
    assert isinstance(signing.load_private_key(str(path)), Ed25519PrivateKey)
    assert config.load_config("development")["LMS_SIGNING_KEY"] == str(path)
    assert path.read_bytes() == pem


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _app_with_key(path) -> Flask:
    app = Flask(__name__)
    app.config.update(LMS_ENV="production", LMS_SIGNING_KEY=str(path))
    return app


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path):
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        signing.init_signing(_app_with_key(ec_key))

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        signing.init_signing(_app_with_key(garbage))

    with pytest.raises(ConfigError, match="cannot read"):
        signing.init_signing(_app_with_key(tmp_path / "missing.pem"))


def test_a_key_file_is_loaded_once_and_published(tmp_path):
    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing-key.pem"
    path.write_bytes(_pem(private_key))
    app = _app_with_key(path)
    key = signing.init_signing(app)
    path.unlink()  # cached in app.extensions: not read again
    assert signing.init_signing(app) is key
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert key.public_jwk["x"] == _b64url_encode(raw)


@pytest.mark.slow
def test_app_does_not_start_with_a_bad_signing_key(tmp_path):
    bad = tmp_path / "ec.pem"
    bad.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    code = (
        "import sys; from lms.app import create_app; create_app({'LMS_ENV': 'testing', "
        "'LMS_SIGNING_KEY': sys.argv[1], 'SQLALCHEMY_DATABASE_URI': 'sqlite://'})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr and "Ed25519" in result.stderr

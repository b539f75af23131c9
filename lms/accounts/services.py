"""Account rules: creating and updating users, passwords, sessions and tokens.

Services flush but never commit; the request boundary commits once.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request, session
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from lms.accounts.errors import (
    AlreadyActivated,
    EmailTaken,
    InvalidActivationToken,
    InvalidCredentials,
)
from lms.accounts.models import ActivationToken, ApiToken, LoginSession, Role, User
from lms.accounts.passwords import hash_password, needs_rehash, password_problems, verify_password
from lms.audit import services as audit
from lms.core import emails
from lms.core.db import utcnow
from lms.core.errors import Forbidden, Invalid, NotFound
from lms.core.tokens import digest, new_secret
from lms.extensions import db

API_TOKEN_PREFIX = "lms_pat_"  # noqa: S105 - a public prefix, not a secret
PROFILE_FIELDS = (
    "full_name",
    "full_name_en",
    "institution",
    "department",
    "title",
    "staff_no",
    "phone",
)


def normalize_email(email: str) -> str:
    """The stored spelling of ``email`` (``lms.core.emails.normalize_email``: NFKC,
    lowercased, IDNA domain); ValueError when it cannot be one."""
    return emails.normalize_email(email)


def login_key(email: str) -> str:
    """The account an attempted login counts against (its email as stored, or as typed
    when it is no valid email at all)."""
    try:
        return normalize_email(email)
    except ValueError:
        return email.strip().lower()


def check_password_policy(
    password: str, user: User | None = None, *, field="password", email: str | None = None, names=()
) -> None:
    """Raise 422 with the reasons when ``password`` breaks the policy."""
    if user is not None:
        email, names = user.email, (user.full_name, user.full_name_en)
    problems = password_problems(password, email=email, names=tuple(names))
    if problems:
        raise Invalid({field: problems})


# --- users ---------------------------------------------------------------------------------


def get_user(user_id: int) -> User:
    """The user with ``user_id`` or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def user_query(*, role: str | None = None, q: str | None = None, is_active: bool | None = None):
    """A select of users filtered by role, activity and a search string, oldest first."""
    stmt = select(User).order_by(User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                User.email.like(like),
                func.lower(User.full_name).like(like),
                func.lower(User.full_name_en).like(like),
                func.lower(User.staff_no).like(like),
            )
        )
    return stmt


def issue_activation_token(user: User) -> str:
    """Create a single-use activation token for ``user``; returns the secret once."""
    secret = new_secret("act_")
    hours = current_app.config["ACTIVATION_TOKEN_HOURS"]
    db.session.add(
        ActivationToken(
            user=user, token_hash=digest(secret), expires_at=utcnow() + timedelta(hours=hours)
        )
    )
    return secret


def create_user(data: dict, *, actor: User | None) -> tuple[User, str | None]:
    """Create an account. Without a password, also return an activation token."""
    email = normalize_email(data["email"])
    password = data.get("password")
    if password is not None:
        check_password_policy(
            password, email=email, names=(data.get("full_name"), data.get("full_name_en"))
        )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken()
    user = User(
        email=email,
        role=data.get("role", Role.TEACHER.value),
        **{f: data.get(f) for f in PROFILE_FIELDS},
    )
    if password is not None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # a concurrent request took the email first
        raise EmailTaken() from exc
    token = None if password is not None else issue_activation_token(user)
    audit.record(
        "user.created",
        "user",
        user.id,
        actor=actor,
        data={"email": user.email, "role": user.role, "activated": token is None},
    )
    return user, token


def update_user(user: User, changes: dict, *, actor: User) -> User:
    """Apply an admin's changes to ``user``; role and activity changes are audited."""
    if "email" in changes:
        email = normalize_email(changes.pop("email"))
        if email != user.email:
            if db.session.scalar(select(User.id).where(User.email == email)) is not None:
                raise EmailTaken()
            audit.record(
                "user.email_changed",
                "user",
                user.id,
                actor=actor,
                data={"from": user.email, "to": email},
            )
            user.email = email
    if "role" in changes and changes["role"] != user.role:
        set_role(user, changes.pop("role"), actor=actor)
    changes.pop("role", None)
    if "is_active" in changes and changes["is_active"] != user.is_active:
        set_active(user, changes.pop("is_active"), actor=actor)
    changes.pop("is_active", None)
    profile = {k: v for k, v in changes.items() if getattr(user, k) != v}
    for key, value in profile.items():
        setattr(user, key, value)
    if profile:
        audit.record("user.updated", "user", user.id, actor=actor, data={"fields": sorted(profile)})
    db.session.flush()
    return user


def set_role(user: User, role: str, *, actor: User) -> None:
    """Change a role. Nobody changes their own role: an admin cannot demote or promote
    themselves, so the last admin cannot lock everybody out by accident either."""
    if actor is not None and actor.id == user.id:
        raise Forbidden("You cannot change your own role.", "不能修改自己的角色。")
    audit.record(
        "user.role_changed", "user", user.id, actor=actor, data={"from": user.role, "to": role}
    )
    user.role = role


def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate or reactivate an account; deactivation ends its sessions and tokens."""
    if actor is not None and actor.id == user.id and not active:
        raise Forbidden("You cannot deactivate your own account.", "不能停用自己的账号。")
    audit.record(
        "user.deactivated" if not active else "user.reactivated", "user", user.id, actor=actor
    )
    user.is_active = active
    if not active:
        end_all_sessions(user)
        revoke_all_api_tokens(user)


# --- passwords and activation ------------------------------------------------------------


def activate(token: str, password: str) -> User:
    """Set the first password of an account from a valid activation token."""
    row = db.session.scalar(
        select(ActivationToken).where(ActivationToken.token_hash == digest(token)).with_for_update()
    )
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now or not row.user.is_active:
        raise InvalidActivationToken(
            {
                "token": [
                    "This activation link is invalid, used or expired. "
                    "激活链接无效、已使用或已过期。"
                ]
            }
        )
    check_password_policy(password, row.user)
    # Conditional update: of two concurrent activations with the same token, one wins.
    won = db.session.execute(
        update(ActivationToken)
        .where(ActivationToken.id == row.id, ActivationToken.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if not won:
        raise InvalidActivationToken({"token": ["This activation link was already used."]})
    user = row.user
    _set_password(user)
    user.password_hash = hash_password(password)
    db.session.execute(
        delete(ActivationToken).where(
            ActivationToken.user_id == user.id, ActivationToken.id != row.id
        )
    )
    audit.record("user.activated", "user", user.id, actor=user)
    return user


def _set_password(user: User) -> None:
    """A new password ends every session and revokes every API token of ``user``."""
    user.password_changed_at = utcnow()
    end_all_sessions(user)
    revoke_all_api_tokens(user)


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; every session ends."""
    if not verify_password(user.password_hash, current):
        raise Invalid({"current_password": ["The current password is incorrect. 当前密码错误。"]})
    check_password_policy(new, user, field="new_password")
    user.password_hash = hash_password(new)
    _set_password(user)
    audit.record("user.password_changed", "user", user.id, actor=user)


# --- login sessions ----------------------------------------------------------------------


def authenticate(email: str, password: str) -> User:
    """Return the user for these credentials or raise the same 401 for every failure."""
    try:
        user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    except ValueError:  # no email we could store: answered as an unknown one
        user = None
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise InvalidCredentials()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(user: User) -> str:
    """Create a LoginSession and put its key in a fresh cookie session."""
    key = new_secret()
    lifetime = current_app.permanent_session_lifetime
    db.session.add(
        LoginSession(
            user_id=user.id,
            key_hash=digest(key),
            expires_at=utcnow() + lifetime,
            ip_address=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:300],
        )
    )
    user.last_login_at = utcnow()
    user.login_key = key
    db.session.flush()
    return key


def end_session(key: str | None) -> None:
    """Delete the LoginSession of ``key``; a copy of the cookie stops working."""
    if key:
        db.session.execute(delete(LoginSession).where(LoginSession.key_hash == digest(key)))


def end_all_sessions(user: User) -> None:
    """Delete every LoginSession of ``user``."""
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def user_for_session_key(key: str) -> User | None:
    """The active user of a live LoginSession, or None."""
    row = db.session.scalar(select(LoginSession).where(LoginSession.key_hash == digest(key)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    row.user.login_key = key
    return row.user


def current_session_key() -> str | None:
    return session.get("_user_id")


# --- API tokens --------------------------------------------------------------------------


def create_api_token(user: User, name: str, expires_in_days: int | None) -> tuple[ApiToken, str]:
    """Create a personal API token; the secret is returned once and stored hashed."""
    secret = new_secret(API_TOKEN_PREFIX)
    most = current_app.config["API_TOKEN_MAX_DAYS"]
    days = min(expires_in_days or most, most)  # LMS_API_TOKEN_MAX_DAYS bounds every token
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=digest(secret),
        prefix=secret[: len(API_TOKEN_PREFIX) + 4],
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.created",
        "api_token",
        token.id,
        actor=user,
        data={"name": name, "expires_at": token.expires_at.isoformat()},
    )
    return token, secret


def list_api_tokens(user: User):
    """A select of the user's tokens that are not revoked, newest first."""
    return (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )


def own_api_token(token_id: int, user: User) -> ApiToken:
    """One of ``user``'s own live tokens (a resolver of ``lms.core.auth.load``): another
    user's token, or a revoked one, is 404."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound()
    return token


def revoke_api_token(token: ApiToken, *, actor: User) -> None:
    """Revoke a token (its owner's, read with ``own_api_token``)."""
    token.revoked_at = utcnow()
    audit.record("api_token.revoked", "api_token", token.id, actor=actor)


def revoke_all_api_tokens(user: User) -> None:
    """Revoke every live API token of ``user`` (password change, deactivation)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def user_for_api_token(secret: str) -> User | None:
    """The active user of a live API token, or None."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    # Record use at most once a minute, to avoid a write on every request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def reissue_activation_token(user: User, *, actor: User) -> str:
    """Replace the outstanding activation tokens of a not yet activated account."""
    if user.is_activated:
        raise AlreadyActivated()
    db.session.execute(delete(ActivationToken).where(ActivationToken.user_id == user.id))
    token = issue_activation_token(user)
    audit.record("user.activation_reissued", "user", user.id, actor=actor)
    return token

"""Password hashing (Argon2id) and the password policy (NIST SP 800-63B).

Policy: at least 12 characters, at most 128 (so 64 are always allowed), no composition
rules, and not a commonly used password.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 12
MAX_LENGTH = 128

# A real hash to verify against when the account does not exist, so that a wrong email
# costs the same time as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password-for-timing"  # noqa: S105 - never a real credential


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST_KIB"], cfg["ARGON2_PARALLELISM"])
    return _hasher_for(*key)


@cache
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher_for(time_cost, memory_cost, parallelism).hash(_DUMMY_PASSWORD)


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash, spend the same time and return False."""
    hasher = _hasher()
    if password_hash is None:
        cfg = current_app.config
        dummy = _dummy_hash(
            cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST_KIB"], cfg["ARGON2_PARALLELISM"]
        )
        try:
            hasher.verify(dummy, password)
        except VerificationError:
            pass
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash was made with weaker parameters than configured now."""
    return _hasher().check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist, lowercased."""
    text = resources.files("lms.accounts").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(
    password: str, *, email: str | None = None, names: tuple[str | None, ...] = ()
) -> list[str]:
    """Reasons why ``password`` is refused, empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters. 密码至少需要 {MIN_LENGTH} 个字符。"]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters. 密码最多 {MAX_LENGTH} 个字符。"]
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) <= 2:
        return ["This password is too common; choose another. 该密码过于常见，请更换。"]
    personal = [email.split("@")[0].lower()] if email else []
    personal += [n.lower().replace(" ", "") for n in names if n]
    if any(p and len(p) >= 4 and lowered.replace(" ", "") == p for p in personal):
        return ["Do not use your name or email as password. 请勿使用姓名或邮箱作为密码。"]
    return []

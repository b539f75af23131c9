"""Random secrets and their stored form."""

import hashlib
import secrets


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A URL-safe random secret of ``nbytes`` bytes (256 bits by default)."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 hex digest: what we store instead of a high-entropy secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()

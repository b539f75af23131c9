"""The production-like environment every benchmarked process gets (config.py reads it)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lms.certificates.signing import write_private_key

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def _signing_key(path: Path) -> str:
    write_private_key(path)
    return str(path)


def production_env(workdir: Path, database_url: str, *, rate_limit: bool = True) -> dict:
    """LMS_ENV=production with throwaway secrets and Redis for the limiter, behind one proxy
    (LMS_PROXY_COUNT=1: the client address is the X-Forwarded-For one, as behind a load
    balancer), with the production verification limit of 60 per minute and address.
    ``rate_limit=False`` turns the limiter off (RATELIMIT_ENABLED=false)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "signing-key.pem"
    return {
        "LMS_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LMS_SIGNING_KEY": str(key) if key.exists() else _signing_key(key),
        "LMS_BASE_URL": "https://lms.example.edu.cn",
        "LMS_UPLOAD_DIR": str(workdir / "uploads"),
        "LMS_INSTANCE_DIR": str(workdir),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_ENABLED": "true" if rate_limit else "false",
        "LMS_PROXY_COUNT": "1",
    }


def apply(env: dict) -> None:
    """Put ``env`` into this process's environment (for apps made in-process)."""
    os.environ.update(env)

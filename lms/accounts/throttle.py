"""Guess limits for password checks (login and password change), counted before the hash.

Each attempt is counted atomically *before* the password is verified (``limits``' hit: an
increment that refuses past the limit, in Redis or in memory), so parallel wrong guesses
cannot all be checked: at most LMS_LOGIN_LIMIT_ACCOUNT of them per window, the rest are
429 without a hash. A successful check clears the count (a refund of the attempts).

The count is per account *and* client address: somebody guessing from one address cannot
lock the owner out from another one; the per-address limit (LMS_LOGIN_LIMIT_ADDRESS, a
Flask-Limiter decorator on the views) bounds what one address tries over all accounts.
"""

from __future__ import annotations

import logging
import math
import time

from flask import current_app, request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES

from lms.accounts.errors import TooManyAttempts
from lms.extensions import limiter

log = logging.getLogger(__name__)

# Used only while the configured storage (Redis) fails, as Flask-Limiter's own fallback.
_fallback = MemoryStorage()


def _strategy():
    return limiter.limiter


def _identifiers(scope: str, account: str) -> tuple[str, ...]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return (prefix, f"guess-{scope}", account, request.remote_addr or "")


def count_attempt(scope: str, account: str) -> None:
    """Count one password check of ``account`` from this address, or raise 429 when the
    window's allowance (LOGIN_RATE_LIMIT_PER_ACCOUNT) is used up."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    item = parse(current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"])
    identifiers = _identifiers(scope, account)
    try:
        strategy = _strategy()
        allowed = strategy.hit(item, *identifiers)
    except Exception:  # the storage is unreachable: count in this process meanwhile
        log.warning("rate limit storage failed; counting password checks in memory")
        strategy = _memory_strategy()
        allowed = strategy.hit(item, *identifiers)
    if not allowed:
        try:
            reset = strategy.get_window_stats(item, *identifiers).reset_time
            retry = max(1, math.ceil(reset - time.time()))
        except Exception:
            retry = item.get_expiry()
        raise TooManyAttempts(headers={"Retry-After": str(retry)})


def refund_attempts(scope: str, account: str) -> None:
    """The password was right: forget the counted attempts of ``account`` here."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    item = parse(current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"])
    identifiers = _identifiers(scope, account)
    for strategy in (_strategy, _memory_strategy):
        try:
            strategy().clear(item, *identifiers)
        except Exception:
            log.warning("rate limit storage failed; could not clear password checks")


def _memory_strategy():
    name = current_app.config.get("RATELIMIT_STRATEGY", "fixed-window")
    return STRATEGIES[name](_fallback)

"""Seeding the demo data through the domain services.

The seed is a list of steps (``STEPS``) run in order inside one transaction; the caller
commits. Every step is idempotent: it finds what an earlier run created by its natural key
(email; later course and programme codes) and creates only what is missing. Later issues
append their steps (programme, course, modules, enrolments, ...) and can use what earlier
steps put on the ``Seed`` (``seed.users`` by email).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import delete, select

from lms.accounts import services as accounts
from lms.accounts.models import ActivationToken, User
from lms.accounts.passwords import hash_password
from lms.audit import services as audit
from lms.core.db import utcnow
from lms.demo import data
from lms.extensions import db


@dataclass
class Seed:
    """The state of one seeding run, handed from step to step."""

    password: str
    users: dict[str, User] = field(default_factory=dict)  # every demo account, by email
    created: Counter[str] = field(default_factory=Counter)  # what this run added, by kind
    existing: Counter[str] = field(default_factory=Counter)  # what was already there
    notes: list[str] = field(default_factory=list)  # anything the operator should know

    @cached_property
    def password_hash(self) -> str:
        # Argon2 at 64 MiB costs ~0.1 s: hash once for all accounts, and only if one is new.
        return hash_password(self.password)


Step = Callable[[Seed], None]


def seed_accounts(seed: Seed) -> None:
    """Create the demo admin, instructors and teachers that do not exist yet."""
    wanted = data.demo_accounts()
    emails = [account["email"] for account in wanted]
    found = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
    for account in wanted:
        user = found.get(account["email"])
        if user is None:
            user = _create_account(seed, account)
            seed.created[user.role] += 1
        else:
            seed.existing[account["role"]] += 1
            if user.role != account["role"]:
                seed.notes.append(f"{user.email} already exists as {user.role}; left unchanged.")
        seed.users[user.email] = user


def _create_account(seed: Seed, account: dict) -> User:
    """Create one account through the service and give it the demo password."""
    accounts.check_password_policy(
        seed.password, email=account["email"], names=(account["full_name"], account["full_name_en"])
    )
    # Created without a password (so the service does not hash it once per account), then
    # activated with the shared hash, the way an activation link would: audited as such.
    user, _activation_token = accounts.create_user(account, actor=None)
    user.password_hash = seed.password_hash
    user.password_changed_at = utcnow()
    db.session.execute(delete(ActivationToken).where(ActivationToken.user_id == user.id))
    audit.record("user.activated", "user", user.id, actor=None, data={"via": "seed-demo"})
    return user


STEPS: tuple[Step, ...] = (seed_accounts,)


def run(password: str = data.DEMO_PASSWORD) -> Seed:
    """Run every step in order (flushes, never commits) and return what happened."""
    accounts.check_password_policy(password)
    seed = Seed(password=password)
    for step in STEPS:
        step(seed)
    return seed

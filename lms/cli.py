"""``flask --app wsgi lms ...`` administration commands.

Like a request, each command is one transaction: the services flush, the command commits
once at the end and rolls back on any error. Domain errors (a weak password, say) are
printed with their field messages and end the command with exit status 1, no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.accounts.schemas import UserCreate
from lms.audit.services import verify_chain
from lms.core.errors import DomainError
from lms.demo import data as demo_data
from lms.demo import seed as demo_seed
from lms.extensions import db

lms_cli = AppGroup("lms", help="Administration commands of the teacher-training LMS.")


def _error_text(message: str, errors) -> str:
    """``message`` followed by one line per field message."""
    lines = [message]
    for name, messages in (errors or {}).items():
        for text in messages if isinstance(messages, list) else [messages]:
            lines.append(f"  {name}: {text}")
    return "\n".join(lines)


@contextmanager
def _one_transaction() -> Iterator[None]:
    """Commit once when the block succeeds; roll back on any error."""
    try:
        yield
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(_error_text(error.message_en, error.errors)) from None
    except BaseException:
        db.session.rollback()
        raise


@lms_cli.command("audit-verify")
def audit_verify():
    """Check the audit log's hash chain; exit 1 at the first tampered event."""
    checked, first = verify_chain()
    if first is not None:
        click.echo(f"TAMPERED: event {first.event_id}: {first.reason} ({checked} events)")
        raise SystemExit(1)
    click.echo(f"OK: {checked} audit events, chain intact")


@lms_cli.command("create-admin")
@click.option("--email", required=True, help="Login email of the new admin.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 12 characters; asked for (twice, hidden) when omitted.",
)
@click.option("--name", "full_name", required=True, help="Full name, e.g. 王慧敏.")
@click.option("--name-en", "full_name_en", default=None, help="Name in pinyin or English.")
def create_admin(email: str, password: str, full_name: str, full_name_en: str | None):
    """Create an active admin (教务) account. An existing email is an error."""
    fields = {
        "email": email,
        "password": password,
        "full_name": full_name,
        "role": Role.ADMIN.value,
    }
    if full_name_en:
        fields["full_name_en"] = full_name_en
    try:
        account = UserCreate().load(fields)
    except ValidationError as error:
        message = _error_text("Some fields are invalid.", error.messages)
        raise click.ClickException(message) from None
    with _one_transaction():
        existing = db.session.scalar(select(User).where(User.email == account["email"]))
        if existing is not None:
            raise click.ClickException(
                f"An account with the email {existing.email} already exists "
                f"(role {existing.role}); nothing was changed. Change roles through the users API."
            )
        user, _ = accounts.create_user(account, actor=None)
    click.echo(f"Created admin {user.email} (id {user.id}).")


@lms_cli.command("seed-demo")
@click.option(
    "--password",
    default=demo_data.DEMO_PASSWORD,
    show_default=True,
    help="Password of every demo account. It is published: for local demos only.",
)
@click.option("--force", is_flag=True, help="Seed even when LMS_ENV is production.")
def seed_demo(password: str, force: bool):
    """Create the demo accounts of the Guangzhou station; running it again adds nothing.

    One admin, three instructors and 90 teachers from vocational colleges across China,
    all with the same published password: never run this on a real installation.
    """
    if current_app.config["LMS_ENV"] == "production" and not force:
        raise click.ClickException(
            "LMS_ENV is production: seed-demo creates accounts with a published password. "
            "Pass --force if you really mean it."
        )
    with _one_transaction():
        seed = demo_seed.run(password)
    _print_seed_report(seed)


def _print_seed_report(seed: demo_seed.Seed) -> None:
    created = ", ".join(f"{seed.created[r]} {r}(s)" for r in ("admin", "instructor", "teacher"))
    click.echo(
        f"Demo data ready: created {created}; "
        f"{sum(seed.existing.values())} account(s) already existed."
    )
    for line in seed.summary:
        click.echo(line)
    for note in seed.notes:
        click.echo(f"Note: {note}")
    click.echo("")
    click.echo("Demo logins:")
    admin = demo_data.ADMIN
    click.echo(f"  admin        {admin['email']:<28} {admin['full_name']} (教务)")
    for n, person in enumerate(demo_data.INSTRUCTORS, start=1):
        click.echo(
            f"  instructor   {demo_data.instructor_email(n):<28} {person['full_name']}, "
            f"{person['institution']}"
        )
    last = len(demo_data.TEACHER_NAMES)
    click.echo(f"  teachers     teacher01..teacher{last:02d}@{demo_data.DEMO_DOMAIN}")
    click.echo(f"  password     {seed.password}   (local demos only)")
    if seed.existing:
        click.echo("  Accounts that already existed keep the password they had.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(lms_cli)

"""``flask --app wsgi lms ...`` administration commands.

Like a request, each command is one transaction: the services flush, the command commits
once at the end and rolls back on any error. Domain errors (a weak password, say) are
printed with their field messages and end the command with exit status 1, no traceback.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from lms.accounts import imports as user_import
from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.accounts.schemas import UserCreate
from lms.audit.services import verify_chain
from lms.catalog.models import Course
from lms.certificates import export, issuance
from lms.core.errors import DomainError
from lms.demo import data as demo_data
from lms.demo import seed as demo_seed
from lms.enrollments import imports as roster_import
from lms.extensions import db
from lms.jobs import services as jobs

lms_cli = AppGroup("lms", help="Administration commands of the teacher-training LMS.")


def _error_text(message: str, errors) -> str:
    """``message`` followed by one line per field message (or per row of an import)."""
    lines = [message]
    if isinstance(errors, list):  # imports: [{row, field, message}]
        for error in errors:
            lines.append(f"  row {error.get('row')}, {error.get('field')}: {error.get('message')}")
        return "\n".join(lines)
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


# --- long work, with progress bars ----------------------------------------------------------


class _ProgressBar:
    """A ``progress(done, total)`` callback drawing a click progress bar on stderr (the
    services know nothing of click). Opened at the first report, closed by ``close``."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.position = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(total, 1), label=self.label, file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()
        self.bar.length = max(total, 1)
        self.bar.update(done - self.position)
        self.position = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextmanager
def _progress(label: str) -> Iterator[_ProgressBar]:
    bar = _ProgressBar(label)
    try:
        yield bar
    finally:
        bar.close()


def _acting_admin(email: str) -> User:
    """The active admin account named by ``--as`` (the actor recorded in the audit log)."""
    user = db.session.scalar(select(User).where(User.email == accounts.login_key(email)))
    if user is None or user.role != Role.ADMIN or not user.is_active:
        raise click.ClickException(f"--as {email}: no active admin account has this email.")
    return user


def _course_by_code(code: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.code == code))
    if course is None:
        raise click.ClickException(f"No course has the code {code}.")
    return course


def _read_upload(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _write_tokens(path: str | None, tokens: list[dict]) -> None:
    """Save activation tokens (secrets, shown once) to ``path`` as CSV, readable by the
    owner only; without a path say how to get fresh ones."""
    if not tokens:
        return
    if path is None:
        click.echo(
            f"{len(tokens)} activation token(s) were not saved (no --tokens-file); issue fresh "
            "ones with POST /api/v1/users/<id>/activation-token."
        )
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "token"])
        writer.writerows([token["email"], token["token"]] for token in tokens)
    click.echo(f"{len(tokens)} activation token(s) written to {path}.")


def _print_import_report(report: dict) -> None:
    verb = "Would import" if report["dry_run"] else "Imported"
    click.echo(
        f"{verb} {report['rows']} row(s): {report['created']} account(s) created, "
        f"{report['updated']} updated, {report['unchanged']} unchanged, "
        f"{report['enrolled']} enrolled."
    )
    for warning in report.get("warnings", []):
        click.echo(f"warning: row {warning['row']}, {warning['field']}: {warning['message']}")


_AS = click.option(
    "--as",
    "admin_email",
    required=True,
    help="Email of the admin on whose behalf the command acts (recorded in the audit log).",
)
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
_TOKENS = click.option(
    "--tokens-file",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the activation tokens of new accounts to this CSV file (mode 0600).",
)


@lms_cli.command("import-users")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_AS
@_DRY_RUN
@_TOKENS
def import_users(file: str, admin_email: str, dry_run: bool, tokens_file: str | None):
    """Create or update accounts from a CSV (UTF-8 or GB18030) or XLSX file, like
    POST /api/v1/users/import: all rows or none; a bad row prints its row and field."""
    with _one_transaction(), _progress("Writing accounts") as bar:
        report = user_import.import_users(
            _read_upload(file), dry_run=dry_run, actor=_acting_admin(admin_email), progress=bar
        )
    _print_import_report(report)
    _write_tokens(tokens_file, report["activation_tokens"])


@lms_cli.command("import-roster")
@click.argument("course_code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_AS
@_DRY_RUN
@_TOKENS
@click.option(
    "--update-existing",
    is_flag=True,
    help="Let existing accounts take the file's cells (otherwise they are left as they are).",
)
def import_roster(
    course_code: str,
    file: str,
    admin_email: str,
    dry_run: bool,
    tokens_file: str | None,
    update_existing: bool,
):
    """Enrol a roster file in the course COURSE_CODE, creating missing accounts, like
    POST /api/v1/courses/{id}/enrollments/import: all rows or none."""
    with _one_transaction(), _progress("Enrolling") as bar:
        report = roster_import.import_roster(
            _course_by_code(course_code),
            _read_upload(file),
            dry_run=dry_run,
            update_existing=update_existing,
            actor=_acting_admin(admin_email),
            progress=bar,
        )
    _print_import_report(report)
    _write_tokens(tokens_file, report["activation_tokens"])


@lms_cli.command("issue-certificates")
@click.argument("course_code")
@_AS
@_DRY_RUN
def issue_certificates(course_code: str, admin_email: str, dry_run: bool):
    """Issue certificates to every eligible enrolment of COURSE_CODE (without PDFs: they
    are rendered on first download or by export-certificates). Issuing again is a no-op."""
    with _one_transaction(), _progress("Issuing") as bar:
        outcome = issuance.issue_certificates(
            _course_by_code(course_code),
            actor=_acting_admin(admin_email),
            dry_run=dry_run,
            progress=bar,
        )
    reasons = Counter(skip["reason"] for skip in outcome["skipped"])
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"
    verb = "Would issue" if dry_run else "Issued"
    click.echo(f"{verb} {len(outcome['issued'])} certificate(s); skipped: {skipped}.")


@lms_cli.command("export-certificates")
@click.argument("course_code")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
def export_certificates(course_code: str, out: str):
    """Write every valid certificate PDF of COURSE_CODE into the ZIP file OUT, rendering
    (and storing) the PDFs not rendered yet."""
    partial = f"{out}.partial"
    try:
        with _one_transaction(), _progress("Rendering and zipping") as bar:
            course = _course_by_code(course_code)
            with open(partial, "wb") as archive:
                count = export.build_course_zip(course.id, archive, progress=bar)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    click.echo(f"Wrote {count} certificate(s) to {out} ({os.path.getsize(out)} bytes).")


@lms_cli.command("run-jobs")
@click.option("--once", is_flag=True, help="Run the queued jobs, then stop.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between queue checks.")
def run_jobs(once: bool, poll: float):
    """Run background jobs (HTTP 202 answers) from the queue until stopped: for
    LMS_JOBS_RUNNER=worker. Any number of workers on any hosts: each job is claimed with
    SELECT ... FOR UPDATE SKIP LOCKED, and stale jobs are reported failed."""
    ran = jobs.run_worker(once=once, poll=poll)
    click.echo(f"Ran {ran} job(s).")


def register_cli(app: Flask) -> None:
    app.cli.add_command(lms_cli)

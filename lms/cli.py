"""``flask --app wsgi lms ...`` administration commands."""

import click
from flask import Flask
from flask.cli import AppGroup

lms_cli = AppGroup("lms", help="Administration commands of the teacher-training LMS.")


@lms_cli.command("audit-verify")
def audit_verify():
    """Check the audit log's hash chain; exit 1 at the first tampered event."""
    from lms.audit.services import verify_chain

    checked, first = verify_chain()
    if first is not None:
        click.echo(f"TAMPERED: event {first.event_id}: {first.reason} ({checked} events)")
        raise SystemExit(1)
    click.echo(f"OK: {checked} audit events, chain intact")


def register_cli(app: Flask) -> None:
    app.cli.add_command(lms_cli)

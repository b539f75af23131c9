#!/usr/bin/env python3
"""Backup and restore drill: prove that a pg_dump and an uploads archive restore into a
working installation. docs/deployment.md describes the real procedure; `.ci/run` runs this
once per CI run.

    .venv/bin/python scripts/restore_drill.py [--keep]

1. Creates a scratch database (lms_drill_src_<id>), migrates it and writes real data through
   the app: `lms seed-demo` (accounts, a course, submissions with files, graded work,
   certificates, audit events), then renders and stores every certificate PDF.
2. Backs up: `pg_dump -Fc` of the database, and a tar archive of LMS_UPLOAD_DIR.
3. Restores into a fresh database (lms_drill_restored_<id>) with `pg_restore`, and the
   archive into a fresh upload directory.
4. Checks the restore: `flask --app wsgi lms audit-verify` passes; every table has the same
   number of rows and every sequence the same position as in the source; the migration
   revision is the same; every stored file the restored database names is in the restored
   upload directory with its recorded SHA-256; the restored installation takes a new write
   (`lms create-admin`) and its audit chain still verifies. As a control, a tampered audit
   event must then make audit-verify fail.
5. Drops both databases and the temporary files (kept with --keep, for a look afterwards).

Server: DRILL_PG_URL, else TEST_PG_URL, else postgresql://postgres@127.0.0.1:5432 (a role
that may create databases). Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import subprocess  # noqa: S404 - runs pg_dump, pg_restore, tar and the flask CLI
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from ensure_test_db import masked, with_database  # noqa: E402

from lms.certificates.signing import write_private_key  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


class DrillFailed(Exception):
    """A step or a check of the drill failed; the message says which and why."""


def step(message: str) -> None:
    print(f"-- {message}", flush=True)


def run(command: list[str], env: dict, *, expect: int = 0, label: str = "") -> str:
    """Run ``command`` in the checkout; return its standard output, or fail (with all its
    output) on another exit status."""
    if not label:
        label = " ".join(command[5:7] if command[:3] == FLASK[:3] else command[:2])
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - fixed programs, arguments built here
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != expect:
        output = (result.stdout + result.stderr).strip()
        raise DrillFailed(f"{label} exited {result.returncode} (expected {expect}):\n{output}")
    print(f"   {label}: exit {expect} in {time.monotonic() - started:.1f} s", flush=True)
    return result.stdout.strip()


def major_version(text: str) -> int:
    """The major version in ``pg_dump (PostgreSQL) 15.20 (...)`` or ``150020``."""
    match = re.search(r"(\d+)\.\d+", text)
    if match:
        return int(match.group(1))
    return int(text) // 10000


def check_client_matches_server(server: str) -> None:
    """pg_dump refuses a server newer than itself; say so before anything is created."""
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            raise DrillFailed(f"{tool} not found: install postgresql-client")
    client = run(["pg_dump", "--version"], os.environ)
    with psycopg.connect(with_database(server, "postgres")) as conn:
        server_num = conn.execute("SHOW server_version_num").fetchone()[0]
    print(f"   {client}; server {major_version(server_num)} ({server_num})")
    if major_version(client) < major_version(server_num):
        raise DrillFailed(
            f"pg_dump {major_version(client)} cannot dump a PostgreSQL "
            f"{major_version(server_num)} server: install the matching postgresql-client"
        )


def create_database(server: str, name: str) -> None:
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name)
            )
        )


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def app_env(database_url: str, upload_dir: Path, work: Path) -> dict:
    """A production environment for the flask CLI, pointing at one scratch database."""
    env = dict(os.environ)
    env.update(
        LMS_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=database_url,
        LMS_UPLOAD_DIR=str(upload_dir),
        LMS_SIGNING_KEY=str(work / "signing-key.pem"),
        LMS_INSTANCE_DIR=str(work / "instance"),
        LMS_BASE_URL="https://lms.drill.invalid",
        RATELIMIT_STORAGE_URI="memory://",
        # The drill hashes a handful of passwords; production's 64 MiB per hash buys nothing here.
        ARGON2_MEMORY_COST_KIB="8192",
        ARGON2_TIME_COST="1",
    )
    return env


RENDER_PDFS = """
from sqlalchemy import select
from lms.app import create_app
from lms.certificates.models import Certificate
from lms.certificates.pdf import ensure_pdf
from lms.extensions import db

app = create_app()
with app.app_context():
    certificates = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()
    for certificate in certificates:
        ensure_pdf(certificate)
    db.session.commit()
    print(f"rendered {len(certificates)} certificate PDFs")
"""


def table_counts(url: str) -> dict[str, int]:
    """Rows per table of the public schema."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }


def sequence_positions(url: str) -> dict[str, int | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        return dict(rows.fetchall())


def scalar(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def stored_files(url: str) -> list[tuple[str, str]]:
    """(storage key, sha256) of every file the database refers to."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT storage_key, sha256 FROM submission_files "
            "UNION ALL SELECT pdf_key, pdf_sha256 FROM certificates WHERE pdf_key IS NOT NULL"
        )
        return rows.fetchall()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(64 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def compare(source: dict, restored: dict, what: str) -> None:
    if source != restored:
        differing = {
            key: (source.get(key), restored.get(key))
            for key in sorted(source.keys() | restored.keys())
            if source.get(key) != restored.get(key)
        }
        raise DrillFailed(
            f"{what} differ between source and restore (source, restored): {differing}"
        )


def populate(env: dict) -> None:
    step("1. migrate a scratch database and write data through the app")
    run([*FLASK, "db", "upgrade"], env)
    for line in run([*FLASK, "lms", "seed-demo", "--force"], env).splitlines():
        if line.startswith(("Demo ", "Note:")) and not line.startswith("Demo logins"):
            print(f"   {line}")
    rendered = run([sys.executable, "-c", RENDER_PDFS], env, label="render PDFs")
    print(f"   {rendered.splitlines()[-1]}")


def back_up(src_url: str, upload_dir: Path, backup: Path) -> tuple[Path, Path]:
    step("2. back up: pg_dump -Fc and a tar archive of LMS_UPLOAD_DIR")
    dump = backup / "lms.dump"
    run(["pg_dump", "--format=custom", "--file", str(dump), "--dbname", src_url], os.environ)
    archive = backup / "uploads.tar.gz"
    run(["tar", "-czf", str(archive), "-C", str(upload_dir), "."], os.environ)
    sizes = f"lms.dump {dump.stat().st_size:,} B, uploads.tar.gz {archive.stat().st_size:,} B"
    print(f"   {sizes}")
    return dump, archive


def restore(server: str, restored_db: str, dump: Path, archive: Path, upload_dir: Path) -> None:
    step("3. restore into a fresh database and a fresh upload directory")
    create_database(server, restored_db)
    restored_url = with_database(server, restored_db)
    run(
        ["pg_restore", "--exit-on-error", "--no-owner", "--dbname", restored_url, str(dump)],
        os.environ,
    )
    upload_dir.mkdir()
    run(["tar", "-xzf", str(archive), "-C", str(upload_dir)], os.environ)


def check(src_url: str, restored_url: str, env: dict, upload_dir: Path) -> None:
    step("4. check the restore")
    events = scalar(restored_url, "SELECT count(*) FROM audit_events")
    output = run([*FLASK, "lms", "audit-verify"], env)
    print(f"   audit-verify: {output.splitlines()[-1]}")
    if events == 0 or f"OK: {events} audit events" not in output:
        raise DrillFailed(f"audit-verify did not check the {events} restored events: {output}")

    counts = table_counts(src_url)
    compare(counts, table_counts(restored_url), "row counts")
    print(f"   row counts equal in all {len(counts)} tables ({sum(counts.values()):,} rows)")
    sequences = sequence_positions(src_url)
    compare(sequences, sequence_positions(restored_url), "sequence positions")
    print(f"   {len(sequences)} sequences at the same position")
    revision = "SELECT version_num FROM alembic_version"
    if scalar(src_url, revision) != scalar(restored_url, revision):
        raise DrillFailed("the migration revision differs")
    print(f"   migration revision {scalar(restored_url, revision)}")

    files = stored_files(restored_url)
    bad = [key for key, digest in files if not _intact(upload_dir / key, digest)]
    if not files or bad:
        raise DrillFailed(f"stored files missing or altered after restore: {bad or 'no files'}")
    print(f"   {len(files)} stored files present with their SHA-256")

    run(
        [*FLASK, "lms", "create-admin", "--email", "drill@drill.invalid", "--name", "演练"]
        + ["--password", secrets.token_urlsafe(24)],
        env,
    )
    output = run([*FLASK, "lms", "audit-verify"], env)
    print(f"   after a new write: {output.splitlines()[-1]}")

    # Control: the check above must be able to fail, or it proves nothing.
    with psycopg.connect(restored_url) as conn:
        conn.execute(
            "UPDATE audit_events SET data = (data::jsonb || '{\"drill\": 1}'::jsonb)::json "
            "WHERE id = (SELECT min(id) FROM audit_events)"
        )
    output = run([*FLASK, "lms", "audit-verify"], env, expect=1)
    print(f"   control, one event altered: {output.splitlines()[-1]}")


def _intact(path: Path, digest: str) -> bool:
    return path.is_file() and sha256_of(path) == digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the databases and files")
    args = parser.parse_args()
    server = os.environ.get("DRILL_PG_URL") or os.environ.get("TEST_PG_URL") or DEFAULT_SERVER
    drill_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    src_db, restored_db = f"lms_drill_src_{drill_id}", f"lms_drill_restored_{drill_id}"
    src_url, restored_url = with_database(server, src_db), with_database(server, restored_db)
    work = Path(tempfile.mkdtemp(prefix="lms-drill-"))
    started = time.monotonic()
    created = []
    try:
        step(f"0. server {masked(server)}; scratch databases {src_db}, {restored_db}")
        check_client_matches_server(server)
        write_private_key(work / "signing-key.pem")
        (work / "backup").mkdir()
        create_database(server, src_db)
        created.append(src_db)
        populate(app_env(src_url, work / "uploads", work))
        dump, archive = back_up(src_url, work / "uploads", work / "backup")
        created.append(restored_db)
        restore(server, restored_db, dump, archive, work / "restored-uploads")
        check(
            src_url,
            restored_url,
            app_env(restored_url, work / "restored-uploads", work),
            work / "restored-uploads",
        )
        status = 0
    except (DrillFailed, psycopg.Error, OSError) as error:
        print(f"FAILED: {error}", flush=True)
        status = 1
    clean_up(server, created, work, keep=args.keep)
    if status == 0:
        print(f"OK: backup and restore drill passed in {time.monotonic() - started:.1f} s")
    return status


def clean_up(server: str, databases: list[str], work: Path, *, keep: bool) -> None:
    step("5. clean up" + (" (skipped: --keep)" if keep else ""))
    if keep:
        print(f"   kept {', '.join(databases)} and {work}")
        return
    for name in reversed(databases):
        try:
            drop_database(server, name)
        except psycopg.Error as error:
            print(f"   could not drop {name}: {error}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

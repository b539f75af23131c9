#!/usr/bin/env python3
"""Create the PostgreSQL test database if it is missing, and print its URL.

``make test`` runs this between the SQLite and the PostgreSQL runs of the suite:

    TEST_PG_URL  server to use, without a database   (postgresql://postgres@127.0.0.1:5432)
    TEST_PG_DB   name of the test database           (lms_test)

Exit status: 0 with the database URL on stdout; 3 when the server cannot be reached (the
reason on stderr; ``make test`` then decides whether that is fatal); 1 on any other error.
The tests themselves reset the database's schema, so an existing database is simply reused.
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_DATABASE = "lms_test"
UNREACHABLE = 3
CONNECT_TIMEOUT_S = 5


def with_database(server_url: str, database: str) -> str:
    """``server_url`` pointing at ``database``, with a libpq-compatible scheme."""
    parts = urlsplit(server_url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, f"/{database}", parts.query, ""))


def masked(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` for printing."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def ensure_database(server_url: str, database: str) -> bool:
    """Create ``database`` on the server unless it exists; True if it was created."""
    maintenance = with_database(server_url, "postgres")
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if found:
            return False
        # template0 with an explicit encoding: Chinese names need UTF-8 whatever template1 is.
        statement = sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0")
        try:
            conn.execute(statement.format(sql.Identifier(database)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created by a concurrent run since the check above
        return True


def main() -> int:
    server_url = os.environ.get("TEST_PG_URL") or DEFAULT_SERVER
    database = os.environ.get("TEST_PG_DB") or DEFAULT_DATABASE
    try:
        created = ensure_database(server_url, database)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"PostgreSQL not reachable at {masked(server_url)}: {reason}", file=sys.stderr)
        return UNREACHABLE
    except psycopg.Error as exc:
        print(f"could not prepare database {database!r}: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f"created database {database}", file=sys.stderr)
    print(with_database(server_url, database))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: generate the datasets and run the benchmark table (``make bench``).

    python -m bench generate --scale 1.0         # lms_bench (and --small: lms_bench_small)
    python -m bench run --scale 1.0              # both datasets, every row, docs/benchmarks.md
    python -m bench run --scale 0.01 --rows 2,7  # a quick look at some rows

The full dataset goes to ``lms_bench`` (BENCH_DATABASE_URL overrides), the 100-times smaller
one to ``lms_bench_small`` on the same server (BENCH_PG_URL, default the local postgres).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from bench import generate as gen
from bench import report

ALL_ROWS = "1,2,3,4,5,6,7"


@click.group()
def cli():
    """Benchmarks of the LMS against their floors (issue 7)."""


@cli.command("generate")
@click.option("--scale", type=float, default=1.0, show_default=True)
@click.option("--small/--no-small", default=False, help="Also the 100-times smaller dataset.")
def generate_cmd(scale: float, small: bool):
    """(Re)create the benchmark database(s) and fill them."""
    gen.generate(gen.database_url(gen.FULL_DB), scale)
    if small:
        gen.generate(gen.database_url(gen.SMALL_DB), gen.small_scale(scale))


def _generated_scale(url: str) -> float | None:
    """The scale the database was generated at, None when it was not (or is missing)."""
    import psycopg

    try:
        with psycopg.connect(gen.libpq(url), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT data FROM audit_events WHERE action = 'bench.dataset_generated' "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except psycopg.Error:
        return None
    return row[0]["sizes"]["scale"] if row else None


def _dataset(name: str, scale: float, reuse: bool) -> str:
    url = gen.database_url(name)
    if reuse and _generated_scale(url) == scale:
        click.echo(f"reusing {name} (scale {scale})")
    else:
        gen.generate(url, scale)
    return url


def _failed(row: int, title: str, error: BaseException) -> dict:
    traceback.print_exception(error)
    return {
        "row": row,
        "title": title,
        "ours": 0.0,
        "floor": 0.0,
        "ratio": 0.0,
        "target": "-",
        "met": False,
        "note": f"failed: {type(error).__name__}: {error}"[:300],
        "unit": "s",
    }


def _service_rows(app, url: str, scale: float) -> list[dict]:
    """Rows 3-6 from bench/service_rows.py, when that module exists."""
    if importlib.util.find_spec("bench.service_rows") is None:
        click.echo("bench/service_rows.py is missing: rows 3-6 skipped")
        return []
    from bench import service_rows

    return service_rows.measure(app, url, scale, click.echo)


@cli.command("run")
@click.option("--scale", type=float, default=1.0, show_default=True)
@click.option("--rows", default=ALL_ROWS, show_default=True, help="Rows to run.")
@click.option("--reuse", is_flag=True, help="Keep datasets already generated at this scale.")
@click.option("--write/--no-write", default=True, help="Update docs/benchmarks.md.")
@click.option("--rounds", type=int, default=3, show_default=True, help="Row 1 rounds per side.")
@click.option("--seconds", type=float, default=8.0, show_default=True, help="Row 1 round length.")
@click.option("--repeats", type=int, default=60, show_default=True, help="Row 2 requests per side.")
@click.option("--strict", is_flag=True, help="Exit 1 when a row misses its target.")
def run_cmd(scale, rows, reuse, write, rounds, seconds, repeats, strict):
    """Generate both datasets, measure the rows, print the table and write the report."""
    from bench import pages, verify_load

    wanted = {int(r) for r in rows.split(",") if r.strip()}
    started = time.perf_counter()
    full_url = _dataset(gen.FULL_DB, scale, reuse)
    small_url = _dataset(gen.SMALL_DB, gen.small_scale(scale), reuse)
    datasets = {
        "full dataset": gen.describe(gen.table_counts(full_url)),
        "1/100 dataset": gen.describe(gen.table_counts(small_url)),
    }
    results, detail = [], []
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as tmp:
        full_app = pages.make_app(full_url, Path(tmp) / "full")
        if wanted & {2, 7}:
            try:
                small_app = pages.make_app(small_url, Path(tmp) / "small")
                full, small = pages.build_world(full_app), pages.build_world(small_app)
                page_rows, detail = pages.measure(full, small, repeats=repeats, log=click.echo)
                results += [r for r in page_rows if r["row"] in wanted]
            except Exception as error:  # noqa: BLE001 - reported in the table
                results.append(_failed(2, "list pages", error))
        if 1 in wanted:
            try:
                results += verify_load.measure(
                    full_url, rounds=rounds, seconds=seconds, log=click.echo
                )
            except Exception as error:  # noqa: BLE001
                results.append(_failed(1, "public verification", error))
        if wanted & {3, 4, 5, 6}:
            try:
                results += [
                    r for r in _service_rows(full_app, full_url, scale) if r["row"] in wanted
                ]
            except Exception as error:  # noqa: BLE001
                results.append(_failed(3, "service rows (bench/service_rows.py)", error))
    duration = time.perf_counter() - started
    click.echo("")
    click.echo(report.table(results))
    if write:
        section = report.render(
            results,
            detail if 7 in wanted else [],
            scale=scale,
            datasets=datasets,
            duration=duration,
            pg=report.postgres_version(gen.libpq(full_url)),
        )
        report.write(section)
        click.echo(f"\nwritten to {report.DOC}")
    if strict and not all(r["met"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    cli()

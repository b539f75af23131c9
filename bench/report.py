"""The results table: printed, and written into docs/benchmarks.md between two markers.

Only the part between the markers is rewritten, so the hand-written text around it (the
method above it, the design measurements quoted from the code below it) survives every run.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BEGIN = "<!-- bench:results:begin (written by `make bench`; edits here are overwritten) -->"
END = "<!-- bench:results:end -->"
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def _value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    return f"{value:g} {unit}"


def table(rows: list[dict]) -> str:
    """A Markdown table of the rows, sorted by row number."""
    lines = [
        "| row | what | ours | floor | ratio | target | met | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(rows, key=lambda r: r["row"]):
        unit = r.get("unit", "s")
        note = str(r.get("note", "")).replace("|", "\\|")
        lines.append(
            f"| {r['row']} | {r['title']} | {_value(r['ours'], unit)} | "
            f"{_value(r['floor'], unit)} | {r['ratio']:.2f}x | {r['target']} | "
            f"{'yes' if r['met'] else '**no**'} | {note} |"
        )
    return "\n".join(lines)


def query_table(detail: list) -> str:
    """Row 7's detail: statements per list endpoint at both sizes, and (for information,
    no target) the median latency of 7 requests at both sizes."""
    lines = [
        "| persona | GET /api/v1... | queries (full) | queries (1/100) | ms (full) | ms (1/100) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for persona, path, n_full, n_small, t_full, t_small in detail:
        flag = "" if n_full == n_small else " **differs**"
        lines.append(
            f"| {persona} | `{path}` | {n_full}{flag} | {n_small} | "
            f"{t_full * 1000:.1f} | {t_small * 1000:.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """CPU model, CPU count, memory and PostgreSQL version, for the report header."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (OSError, ValueError):
        mem = 0
    load = os.getloadavg()[0]
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB; load average {load:.1f} at the end"


def postgres_version(url: str) -> str:
    try:
        out = subprocess.run(  # noqa: S603
            ["psql", url, "-Atc", "SHOW server_version"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def render(rows, detail, *, scale, datasets: dict[str, str], duration: float, pg: str) -> str:
    """The generated section of docs/benchmarks.md."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    met = sum(1 for r in rows if r["met"])
    parts = [
        BEGIN,
        "",
        f"Run of {when}, scale {scale}, {duration / 60:.1f} min; {met} of {len(rows)} rows "
        "meet their target.",
        "",
        f"- machine: {machine()}; PostgreSQL {pg}",
        *(f"- {name}: {text}" for name, text in datasets.items()),
        "",
        table(rows),
        "",
    ]
    if detail:
        parts += ["Row 7 in detail:", "", query_table(detail), ""]
    parts.append(END)
    return "\n".join(parts)


def write(section: str, path: Path = DOC) -> None:
    """Replace the generated section of ``path`` (appended when the markers are missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")

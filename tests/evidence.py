"""Numbers the safety tests report at the end of a run (issue 6: "the numbers are printed").

A test calls ``evidence.add("races repeated", 1)`` (or any other counter name); the root
conftest prints every counter in the terminal summary. Counters are per process: run the
suite without ``-n`` to get the totals that docs/security.md quotes.
"""

from __future__ import annotations

from collections import Counter

_counts: Counter[str] = Counter()
_notes: dict[str, str] = {}


def add(name: str, n: int = 1, *, note: str | None = None) -> None:
    """Add ``n`` to counter ``name``; ``note`` (optional) is printed beside it."""
    _counts[name] += n
    if note:
        _notes[name] = note


def lines() -> list[str]:
    return [
        f"{name}: {count}" + (f" ({_notes[name]})" if name in _notes else "")
        for name, count in sorted(_counts.items())
    ]

"""The progress callback that long services accept: ``progress(done, total)``.

Services report how far they are without knowing who listens: the CLI draws a click
progress bar, a background job writes it to its row (``lms.jobs.services``), a request
passes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]


def report(progress: Progress | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when there is a listener."""
    if progress is not None:
        progress(done, total)

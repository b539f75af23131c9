"""What the catalogue tells, or asks, the domains built on it (blinker signals).

The domains above connect their receivers in the app factory (lms.app.connect_signals),
never as an import side effect; the catalogue imports none of them.
"""

from blinker import Namespace

_signals = Namespace()

module_activity = _signals.signal(
    "module-activity",
    doc="""Asked before a module is deleted or its quiz or rubric replaced: each receiver
    ``(module)`` answers True when its domain holds learner data for the module.""",
)

seats_added = _signals.signal(
    "seats-added",
    doc="""Sent after a course's capacity grew (``course``, ``actor``), in the same
    transaction: enrolments promote their waitlist.""",
)

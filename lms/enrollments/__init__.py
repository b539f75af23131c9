"""Enrolments: self-enrolment, admin enrolment, roster import, capacity and waitlist."""

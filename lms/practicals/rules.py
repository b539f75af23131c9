"""Rules shared by submissions, grading and progress."""

from __future__ import annotations

from sqlalchemy import exists, or_, select

from lms.catalog.models import Course, Module
from lms.extensions import db
from lms.practicals.models import GradeRelease


def grades_released_clause():
    """SQL: the grades of ``Module`` are visible to teachers (join Module to Course)."""
    return or_(
        Course.grade_release == "immediate", exists().where(GradeRelease.module_id == Module.id)
    )


def grades_visible(module: Module) -> bool:
    """True when teachers may see the grades of ``module``."""
    if module.course.grade_release == "immediate":
        return True
    return bool(db.session.scalar(select(exists().where(GradeRelease.module_id == module.id))))

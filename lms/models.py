"""Imports every model module, so that the metadata is complete (used by Alembic)."""

from lms.accounts.models import ActivationToken, ApiToken, LoginSession, User  # noqa: F401
from lms.audit.models import AuditEvent  # noqa: F401
from lms.catalog.models import (  # noqa: F401
    Course,
    CourseInstructor,
    Module,
    Program,
    Quiz,
    QuizQuestion,
    RubricCriterion,
)
from lms.certificates.models import Certificate, CertificateSequence  # noqa: F401
from lms.enrollments.models import Enrollment  # noqa: F401
from lms.jobs.models import Job  # noqa: F401
from lms.learning.models import ModuleCompletion, QuizAttempt  # noqa: F401
from lms.practicals.models import (  # noqa: F401
    Extension,
    Grade,
    GradeRelease,
    GradeRevision,
    Submission,
    SubmissionFile,
)

"""Indexes for the national-scale list pages (issue 7, docs/benchmarks.md).

Revision ID: 7f3e9b2c4a10
Revises: c85e5847c15b
Create Date: 2026-12-01 14:00:00

Measured on the benchmark dataset (`make bench`: BENCH-BIG has 10k enrolments and 14k
submissions): without them the first roster page sorted all 10k enrolments of the course
(14 ms of a parallel sort) and the unfiltered grading queue all of its submissions; with
them both read 50 index entries. The admin certificate list (newest first) sorted all 41k
certificates (parallel sequential scan, 38 ms); it now reads them backwards from an index.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "7f3e9b2c4a10"
down_revision = "c85e5847c15b"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollments_course_queue", ["course_id", "queued_at", "id"], unique=False
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submissions_course_submitted", ["course_id", "submitted_at", "id"], unique=False
        )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index("ix_certificates_issued_at_id", ["issued_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certificates_issued_at_id")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_course_submitted")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollments_course_queue")

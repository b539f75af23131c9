"""Courses: time zone, and content HTML (issue 12)

A course's dates (starts_on, ends_on) are days in its time zone; the end of ends_on there
closes self-enrolment unless an admin set enroll_closes_at later. Module content and brief
and submission text keep their sanitised HTML next to the Markdown source; existing rows
are rendered here with the application's one renderer (lms.core.markdown).

Revision ID: c12d2c3b4a5f
Revises: a12f0e1d2c3b
Create Date: 2026-12-03 14:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c12d2c3b4a5f'
down_revision = 'a12f0e1d2c3b'
branch_labels = None
depends_on = None


HTML_COLUMNS = {'modules': ('content', 'brief'), 'submissions': ('text',)}


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'time_zone', sa.String(length=64), server_default='Asia/Shanghai', nullable=False
            )
        )
    for table, sources in HTML_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for source in sources:
                batch_op.add_column(sa.Column(f'{source}_html', sa.Text(), nullable=True))
        _render_existing(table, sources)


def _render_existing(table, sources):
    from lms.core.markdown import render

    bind = op.get_bind()
    rows = sa.table(table, sa.column('id'), *(sa.column(s) for s in sources),
                    *(sa.column(f'{s}_html') for s in sources))
    for source in sources:
        column = rows.c[source]
        found = bind.execute(sa.select(rows.c.id, column).where(column.isnot(None))).all()
        for row_id, text in found:
            bind.execute(
                rows.update().where(rows.c.id == row_id).values({f'{source}_html': render(text)})
            )


def downgrade():
    for table, sources in HTML_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for source in sources:
                batch_op.drop_column(f'{source}_html')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('time_zone')

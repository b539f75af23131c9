"""Certificates: how each PDF was rendered (issue 12): font, embedding, time

Revision ID: a12f0e1d2c3b
Revises: 3b8d5e1f9a27
Create Date: 2026-12-03 14:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a12f0e1d2c3b'
down_revision = '3b8d5e1f9a27'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pdf_font', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('pdf_font_embedded', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('pdf_rendered_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('pdf_rendered_at')
        batch_op.drop_column('pdf_font_embedded')
        batch_op.drop_column('pdf_font')

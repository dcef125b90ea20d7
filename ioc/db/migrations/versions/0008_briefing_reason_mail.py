"""briefings: why an attempt failed (a code the pages translate), the summary paragraph (the
mail's text) and the mail's outcome (status, attempts, last error, last attempt) (docs/briefings.md)

Revision ID: 0008_briefing_mail
Revises: 0007_pii_access_log
Create Date: 2026-12-02 14:00:00
"""
import sqlalchemy as sa
from alembic import op

import ioc.db.types

revision = '0008_briefing_mail'
down_revision = '0007_pii_access_log'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('mail_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('mail_attempts', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mail_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('mail_at', ioc.db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.drop_column('mail_at')
        batch_op.drop_column('mail_error')
        batch_op.drop_column('mail_attempts')
        batch_op.drop_column('mail_status')
        batch_op.drop_column('summary')
        batch_op.drop_column('reason')

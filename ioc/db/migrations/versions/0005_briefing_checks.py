"""briefings: local day (the --date), post-render checks, pages, size, finished_at (docs/briefings.md)

Revision ID: 0005_briefings
Revises: 0004
Create Date: 2026-12-02 08:00:00
"""
import sqlalchemy as sa
from alembic import op

import ioc.db.types

revision = '0005_briefings'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('checks', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('pages', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('finished_at', ioc.db.types.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_briefings_last_day'), ['last_day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefings_last_day'))
        batch_op.drop_column('finished_at')
        batch_op.drop_column('size_bytes')
        batch_op.drop_column('pages')
        batch_op.drop_column('checks')
        batch_op.drop_column('last_day')

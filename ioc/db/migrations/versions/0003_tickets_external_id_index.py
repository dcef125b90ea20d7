"""tickets.external_id index (the KPI snapshot reads changed tickets by external_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:20:00
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_external_id'), ['external_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_external_id'))

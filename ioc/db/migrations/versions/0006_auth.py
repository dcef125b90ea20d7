"""auth: users' scope and pii permission, sessions, failed logins, wall devices (docs/security.md)

Revision ID: 0006_auth
Revises: 0005_briefings
Create Date: 2026-12-10 08:00:00
"""
import sqlalchemy as sa
from alembic import op

import ioc.db.types

revision = '0006_auth'
down_revision = '0005_briefings'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sectors', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('communes', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('pii', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('updated_at', ioc.db.types.UTCDateTime(), nullable=True))
    op.create_table('auth_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('created_at', ioc.db.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', ioc.db.types.UTCDateTime(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('at', ioc.db.types.UTCDateTime(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failures_username'), ['username'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failures_client'), ['client'], unique=False)
    op.create_table('devices',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enrol_hash', sa.String(length=64), nullable=True),
    sa.Column('enrol_expires_at', ioc.db.types.UTCDateTime(), nullable=True),
    sa.Column('credential_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', ioc.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('enrolled_at', ioc.db.types.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', ioc.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_seen_at', ioc.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('enrol_hash'),
    sa.UniqueConstraint('credential_hash')
    )


def downgrade() -> None:
    op.drop_table('devices')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_client'))
        batch_op.drop_index(batch_op.f('ix_login_failures_username'))
        batch_op.drop_index(batch_op.f('ix_login_failures_at'))
    op.drop_table('login_failures')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
    op.drop_table('auth_sessions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('pii')
        batch_op.drop_column('communes')
        batch_op.drop_column('sectors')

"""pii_access_log: every unmasked view or export of personal data (append-only); quarantined
payloads redacted

Revision ID: 0007_pii_access_log
Revises: 0006_auth
Create Date: 2026-12-02 14:00:00

The log refuses UPDATE and DELETE by triggers (SQLite and PostgreSQL), so nothing that
connects as the application can rewrite it (docs/security.md § Audit of personal data).
Rows of the quarantine stored before this revision held raw payloads with reporters'
names, phones and addresses and camera stream addresses: they are redacted here, as the
connectors now redact at write time (connectors/redaction.py).

"""
import sqlalchemy as sa
from alembic import op

import ioc.db.types

revision = '0007_pii_access_log'
down_revision = '0006_auth'
branch_labels = None
depends_on = None

_REFUSE = "the personal-data access log is append-only"


def upgrade() -> None:
    op.create_table(
        'pii_access_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('at', ioc.db.types.UTCDateTime(), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=True),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('surface', sa.String(length=100), nullable=False),
        sa.Column('record_kind', sa.String(length=32), nullable=False),
        sa.Column('record_ids', sa.JSON(), nullable=False),
        sa.Column('record_count', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pii_access_log_at', 'pii_access_log', ['at'])
    op.create_index('ix_pii_access_log_actor', 'pii_access_log', ['actor'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE FUNCTION pii_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$""")
        op.execute("""CREATE TRIGGER pii_access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                      ON pii_access_log FOR EACH STATEMENT EXECUTE FUNCTION pii_access_log_append_only()""")
    else:
        for what in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER pii_access_log_no_{what.lower()} BEFORE {what} ON pii_access_log
                           BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END""")
    _redact_quarantine()


def _redact_quarantine() -> None:
    from connectors.redaction import redact_rows

    redact_rows(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS pii_access_log_append_only ON pii_access_log")
        op.execute("DROP FUNCTION IF EXISTS pii_access_log_append_only()")
    op.drop_index('ix_pii_access_log_actor', table_name='pii_access_log')
    op.drop_index('ix_pii_access_log_at', table_name='pii_access_log')
    op.drop_table('pii_access_log')

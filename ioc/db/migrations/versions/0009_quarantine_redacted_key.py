"""quarantine: a record without an id is keyed by a digest of its redacted payload

Revision ID: 0009_quarantine_key
Revises: 0008_briefing_mail
Create Date: 2026-12-03 10:00:00

Rows stored before were keyed ``kind:sha256:<digest of the raw payload>``: with the table,
anyone could confirm a reporter's guessed phone number by hashing guesses. Their keys are
rewritten from the stored (redacted) payload, as connectors/quarantine.py keys them now; rows
that become one record are merged (docs/security.md § Redaction of the quarantine). The raw
digests are gone for good: the downgrade leaves the keys as they are.
"""
from alembic import op

revision = '0009_quarantine_key'
down_revision = '0008_briefing_mail'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from connectors.quarantine import rekey_rows

    rekey_rows(op.get_bind())


def downgrade() -> None:
    pass

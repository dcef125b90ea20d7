"""quarantine: one row per upstream record (record_key unique per source, last seen, times seen)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00

Rows stored before this revision were one per sighting. Each gets the key the connectors
now compute (connectors/quarantine.py: ``kind:upstream id``, or ``kind:sha256:<digest>`` of
the payload, re-serialised with sorted keys when the stored text is whole JSON), then the
sightings of one record are merged into the newest row: first seen = the earliest,
last seen = the latest, times seen = the number of sightings (an upper bound of the polls:
older versions stored a record read twice in one poll twice). The unused run_id goes.
"""
import hashlib

import orjson
import sqlalchemy as sa
from alembic import op

import ioc.db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _kind(source: str, reason_code: str) -> str:
    """The record kind of a row written before kinds were kept: the connectors prefix the
    reason codes of SensorThings metadata and of the procedure catalogue."""
    if source == 'hotline':
        return 'ticket'
    if source == 'cameras':
        return 'camera'
    for prefix in ('thing', 'datastream', 'procedure'):
        if reason_code.startswith(prefix + '_'):
            return prefix
    return 'observation' if source == 'environment' else 'dossier'


def _key(source, reason_code, record_id, text) -> str:
    try:
        payload = orjson.loads(text)
    except (TypeError, orjson.JSONDecodeError):
        payload = text  # truncated or repr(): the stored text is all we have
    kind = _kind(source, reason_code)
    rid = (record_id or '').strip()[:200]
    if rid:
        return f'{kind}:{rid}'
    if isinstance(payload, str):
        data = payload.encode()
    else:
        data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)  # as connectors/quarantine.py hashes
    return f'{kind}:sha256:{hashlib.sha256(data).hexdigest()}'


def upgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_key', sa.String(length=240), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', ioc.db.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('times_seen', sa.Integer(), nullable=True))
        batch_op.alter_column('received_at', new_column_name='first_seen_at',
                              existing_nullable=False)
        batch_op.drop_index('ix_quarantine_received_at')
        batch_op.drop_column('run_id')

    conn = op.get_bind()
    q = sa.table('quarantine', sa.column('id', sa.Integer), sa.column('source', sa.String),
                 sa.column('record_key', sa.String), sa.column('record_id', sa.String),
                 sa.column('reason_code', sa.String), sa.column('payload', sa.Text),
                 sa.column('first_seen_at', ioc.db.types.UTCDateTime()),
                 sa.column('last_seen_at', ioc.db.types.UTCDateTime()), sa.column('times_seen', sa.Integer))
    groups: dict = {}
    for row in conn.execute(sa.select(q.c.id, q.c.source, q.c.record_id, q.c.reason_code, q.c.payload,
                                      q.c.first_seen_at).order_by(q.c.id)):
        key = _key(row.source, row.reason_code, row.record_id, row.payload)
        groups.setdefault((row.source, key), []).append((row.id, row.first_seen_at))
    for (_source, key), rows in groups.items():
        keep = rows[-1][0]  # the newest sighting holds the latest reason and payload
        seen = [at for _, at in rows]
        conn.execute(sa.update(q).where(q.c.id == keep).values(
            record_key=key, first_seen_at=min(seen), last_seen_at=max(seen), times_seen=len(rows)))
        older = [i for i, _ in rows[:-1]]
        for i in range(0, len(older), 500):
            conn.execute(sa.delete(q).where(q.c.id.in_(older[i:i + 500])))

    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.alter_column('record_key', existing_type=sa.String(length=240), nullable=False)
        batch_op.alter_column('last_seen_at', nullable=False)
        batch_op.alter_column('times_seen', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_quarantine_source_record', ['source', 'record_key'])
        batch_op.create_index(batch_op.f('ix_quarantine_last_seen_at'), ['last_seen_at'], unique=False)


def downgrade() -> None:
    # One row per record stays one row: the sightings merged by upgrade() are not restored.
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_last_seen_at'))
        batch_op.drop_constraint('uq_quarantine_source_record', type_='unique')
        batch_op.drop_column('times_seen')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('record_key')
        batch_op.alter_column('first_seen_at', new_column_name='received_at',
                              existing_nullable=False)
        batch_op.add_column(sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_quarantine_received_at'), ['received_at'], unique=False)

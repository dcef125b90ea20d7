"""Geography at start-up (`ioc up`, `ioc web`): units synced, default boundaries imported."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


def prepare_geography(engine: Engine, settings) -> str | None:
    """Returns a message for the user when there are no boundaries (the product still runs)."""
    from geo.assign import ensure_default_boundaries

    with Session(engine) as session:
        result = ensure_default_boundaries(session, settings)
        session.commit()
    return None if result.ok else str(result)

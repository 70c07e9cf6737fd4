"""Checking the event log's hash chain."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.server.deps import AuditReader, EngineDep
from labelloop.server.schemas import AuditBreak, AuditOut
from labelloop.store.events import verify_chain

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
def verify(_user: AuditReader, engine: EngineDep) -> AuditOut:
    """Every event's link and hash; ``ok`` is false if anything was edited or deleted."""
    with engine.connect() as conn:
        count, breaks = verify_chain(conn)
    return AuditOut(
        ok=not breaks,
        events=count,
        breaks=[AuditBreak(event_id=b.event_id, reason=b.reason) for b in breaks[:1000]],
    )

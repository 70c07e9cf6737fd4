"""Checking the event log's hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from labelloop.errors import ConfigError
from labelloop.server.deps import AuditReader, EngineDep
from labelloop.server.schemas import AuditBreak, AuditOut
from labelloop.store.events import Anchor, verify_chain

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
def verify(
    _user: AuditReader,
    engine: EngineDep,
    expect_head: Annotated[
        str | None, Query(pattern="^[0-9a-f]{64}$", description="An anchor's head hash.")
    ] = None,
    expect_count: Annotated[
        int | None, Query(ge=0, description="The number of events of that anchor.")
    ] = None,
) -> AuditOut:
    """Every event's link and keyed hash; ``ok`` is false if anything was edited or deleted,
    or, given an anchor (``expect_head`` with ``expect_count``), if the chain no longer holds
    it: cut short or rewritten."""
    anchor = None
    if expect_head is not None and expect_count is not None:
        anchor = Anchor(expect_count, expect_head)
    elif expect_head is not None or expect_count is not None:
        raise ConfigError("expect_head and expect_count go together")
    with engine.connect() as conn:
        report = verify_chain(conn, anchor=anchor)
    return AuditOut(
        ok=report.ok,
        events=report.events,
        head=report.head,
        key_id=report.key_id,
        breaks=[AuditBreak(event_id=b.event_id, reason=b.reason) for b in report.breaks[:1000]],
    )

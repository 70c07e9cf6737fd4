"""Liveness and readiness (no authentication).

``/health`` answers 200 while the process runs (restart it when it does not); ``/ready`` answers
200 only when the store answers and its schema is at this version's head revision, 503 otherwise
(send it no traffic until it is).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from labelloop.server.deps import EngineDep
from labelloop.store.engine import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(engine: EngineDep) -> dict[str, str] | JSONResponse:
    """The store answers and is migrated to head."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError:
        return JSONResponse({"detail": "the store does not answer"}, status_code=503)
    head = head_revision()
    if revision != head:
        detail = f"the store is at revision {revision}, not {head}: run labelloop db upgrade"
        return JSONResponse({"detail": detail}, status_code=503)
    return {"status": "ok"}

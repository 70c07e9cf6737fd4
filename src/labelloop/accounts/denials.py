"""Denied requests in the audit log: one event each, never a secret in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from labelloop.store.engine import writer
from labelloop.store.events import append_event

MAX_TEXT = 300  # paths and reasons are cut: an attacker picks them, the log should stay small


def record_denial(engine: Engine, *, actor: str, action: str, payload: dict[str, Any]) -> None:
    """Append one ``action`` event (``access.denied``, ``auth.login.throttled`` ...) by ``actor``
    (a username, or ``"anonymous"``); string values longer than :data:`MAX_TEXT` are cut."""
    clean = {k: v[:MAX_TEXT] if isinstance(v, str) else v for k, v in payload.items()}
    with writer(engine).begin() as conn:
        append_event(conn, actor=actor[:100], action=action, payload=clean)

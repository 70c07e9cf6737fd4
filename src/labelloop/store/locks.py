"""Named transaction locks, for writers that check the store and then insert.

SQLite's write transactions are serial already (``BEGIN IMMEDIATE``); PostgreSQL's are not, so two
of them can each see "none yet" and insert one each. Holding a named lock first serialises them.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text


def hold(conn: Connection, name: str) -> None:
    """Hold the lock ``name`` until ``conn``'s transaction ends (PostgreSQL: an advisory
    transaction lock; elsewhere nothing, the writer being serial)."""
    if conn.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

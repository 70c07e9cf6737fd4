"""Where the audit chain's key comes from: ``LABELLOOP_AUDIT_KEY``, else ``DATA_DIR/audit.key``.

The file is created once, readable by its owner only, with 32 random bytes in hex. Several
processes starting at once agree on one key: each writes a candidate under a temporary name and
hard-links it into place, and whoever loses reads the winner's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from labelloop.errors import AuditError
from labelloop.settings import Settings
from labelloop.store.events import AuditKey

KEY_FILE = "audit.key"


def audit_key(settings: Settings) -> AuditKey:
    """The configured audit key, or the one kept in the data dir (created if missing)."""
    if settings.audit_key is not None:
        return AuditKey(settings.audit_key.get_secret_value().encode())
    return AuditKey(load_or_create(settings.data_dir / KEY_FILE))


def load_or_create(path: Path) -> bytes:
    """The key in ``path``; a new random one if the file does not exist yet."""
    if not path.exists():
        _create(path)
    secret = path.read_text(encoding="ascii").strip().encode()
    if len(secret) < 32:
        raise AuditError(
            f"{path} holds {len(secret)} characters; an audit key needs at least 32 "
            "(restore the file, or set LABELLOOP_AUDIT_KEY)"
        )
    return secret


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)

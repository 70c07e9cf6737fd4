"""Content hashes of exported files and folders, to name a dataset version by what it holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dir_sha256(path: str | Path) -> str:
    """A SHA-256 over every file below ``path``: relative names and contents, in sorted order.

    Equal trees give equal digests wherever they lie; renaming, adding, removing or changing a
    file changes it. Empty folders do not count.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for name, file in files:
        digest.update(f"{name}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()

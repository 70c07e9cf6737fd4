"""The data file formats labelloop reads and writes, and how a path's suffix names one."""

from __future__ import annotations

from pathlib import Path

from labelloop._validation import check_choice
from labelloop.errors import InputFileError, Reject

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}


def detect_format(path: Path, fmt: str | None = None, *, owner: str = "read_records") -> str:
    """Return ``fmt`` if given (checked), else the format named by the suffix of ``path``."""
    if fmt is not None:
        return check_choice(owner, "fmt", fmt, FORMATS)
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        known = ", ".join(SUFFIXES)
        reason = f"unknown file format {path.suffix or '(no suffix)'!r}: use {known} or pass fmt"
        raise InputFileError([Reject(str(path), 0, None, reason)])
    return found

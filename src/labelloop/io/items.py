"""Read a data file into checked items, one at a time, catching conflicting duplicates.

Two records with the same key and the same content (data and label) are one item: the repeat is
dropped silently. The same key with different content is a reject naming both lines. Memory grows
by about 150 bytes per distinct key, never with the size of the records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from labelloop.config import ProjectConfig
from labelloop.errors import Reject
from labelloop.io.formats import detect_format
from labelloop.io.readers import Row, read_records
from labelloop.io.records import ItemRecord, parse_record


def iter_items(
    path: str | Path, *, config: ProjectConfig, fmt: str | None = None
) -> Iterator[ItemRecord | Reject]:
    """Yield each item of ``path`` checked against ``config``, or a reject for each problem.

    Raises :class:`~labelloop.errors.InputFileError` at once if the file cannot be read at all.
    """
    path = Path(path)
    kind = detect_format(path, fmt, owner="iter_items")
    records = read_records(path, fmt=kind)
    return _items(records, str(path), config, from_csv=kind == "csv")


def _items(
    records: Iterator[Row], file: str, config: ProjectConfig, *, from_csv: bool
) -> Iterator[ItemRecord | Reject]:
    seen = _SeenKeys()
    for line, record in records:
        if isinstance(record, Reject):
            yield record
            continue
        item = parse_record(record, config=config, file=file, line=line, from_csv=from_csv)
        if isinstance(item, list):
            yield from item
            continue
        earlier = seen.add(item, line)
        if earlier is None:
            yield item
        elif not earlier[1]:
            yield _conflict(item, file, line, earlier[0], config)


def _conflict(item: ItemRecord, file: str, line: int, first: int, config: ProjectConfig) -> Reject:
    if item.key.startswith("id:"):
        reason = f"id already used on line {first} for different content"
        return Reject(file, line, config.id_field, reason)
    reason = f"same data as line {first} but a different label"
    return Reject(file, line, config.label_field, reason)


class _SeenKeys:
    """The keys met so far, each with its first line and a 64-bit digest of its content."""

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}

    def add(self, item: ItemRecord, line: int) -> tuple[int, bool] | None:
        """Remember ``item``; for a key met before return (its first line, same content?)."""
        key = hashlib.blake2b(item.key.encode(), digest_size=16).digest()
        content = item.fingerprint
        previous = self._seen.get(key)
        if previous is None:
            self._seen[key] = (content << 40) | line
            return None
        return previous & ((1 << 40) - 1), previous >> 40 == content

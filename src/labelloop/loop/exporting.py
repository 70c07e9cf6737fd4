"""Exporting finished labels as immutable, content-hashed dataset versions."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from labelloop.errors import ConfigError
from labelloop.io.csv_cells import GUARD_NOTE
from labelloop.io.writers import write_hf_dataset, write_rows
from labelloop.loop.context import LoopContext
from labelloop.store import tables as t
from labelloop.store.events import Anchor, append_event, chain_head

FORMATS = ("jsonl", "csv", "parquet", "hf")


@dataclass(frozen=True)
class DatasetVersion:
    """An exported dataset: its content hash identifies it."""

    id: int
    content_hash: str
    n_items: int
    path: Path
    provenance: dict[str, Any]


def labelled_rows(ctx: LoopContext) -> list[dict[str, Any]]:
    """One row per decided item: its data, final answer (in the columns its task kind writes)
    and where that answer came from."""
    i, fl = t.items, t.final_labels
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(
                i.c.key,
                i.c.data,
                fl.c.label,
                fl.c.source,
                fl.c.decided_by,
                fl.c.model_version,
                fl.c.confidence,
                fl.c.guideline_version,
                fl.c.decided_at,
            )
            .join(fl, fl.c.item_id == i.c.id)
            .where(i.c.project_id == ctx.id)
            .order_by(i.c.key)
        ).all()
    kind = ctx.kind
    return [
        {
            "key": r.key,
            **r.data,
            **kind.export_fields(r.label),
            "label_source": r.source,
            "decided_by": r.decided_by,
            "model_version": r.model_version,
            "confidence": r.confidence,
            "guideline_version": r.guideline_version,
            "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        }
        for r in rows
    ]


def provenance_of(
    ctx: LoopContext, rows: list[dict[str, Any]], digest: str, *, certified: bool
) -> dict[str, Any]:
    """Where a dataset version's labels came from, and whether it is certified."""
    return {
        "project": ctx.name,
        "content_hash": digest,
        "n_items": len(rows),
        "label_sources": dict(Counter(r["label_source"] for r in rows)),
        "model_versions": sorted({r["model_version"] for r in rows if r["model_version"]}),
        "guideline_versions": sorted(
            {r["guideline_version"] for r in rows if r["guideline_version"]}
        ),
        "config": ctx.config.model_dump(mode="json"),
        "certified": certified,
    }


def record_version(conn: Connection, ctx: LoopContext, provenance: dict[str, Any]) -> int:
    """The id of the dataset version with ``provenance``'s content hash, stored if new; a
    certified provenance certifies an existing version too."""
    dv = t.dataset_versions
    found = conn.execute(
        select(dv.c.id).where(
            dv.c.project_id == ctx.id, dv.c.content_hash == provenance["content_hash"]
        )
    ).scalar()
    if found is None:
        return t.inserted_id(
            conn.execute(
                dv.insert().values(
                    project_id=ctx.id,
                    content_hash=provenance["content_hash"],
                    n_items=provenance["n_items"],
                    certified=provenance["certified"],
                    provenance=provenance,
                )
            )
        )
    if provenance["certified"]:
        conn.execute(dv.update().where(dv.c.id == found).values(certified=True))
    return int(found)


def _is_certified(ctx: LoopContext, digest: str) -> bool:
    dv = t.dataset_versions
    with ctx.engine.connect() as conn:
        return bool(
            conn.execute(
                select(dv.c.certified).where(dv.c.project_id == ctx.id, dv.c.content_hash == digest)
            ).scalar()
        )


def content_hash(rows: list[dict[str, Any]]) -> str:
    """SHA-256 of the rows in canonical JSON: the same labels give the same version."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def export(ctx: LoopContext, path: Path, *, fmt: str, actor: str = "system") -> DatasetVersion:
    """Write the decided items to ``path`` and record the dataset version with its provenance.

    The provenance file beside the export also anchors the audit log: ``audit`` holds the number
    of events and the head hash just before this export (``labelloop audit verify --anchor``).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    rows = labelled_rows(ctx)
    digest = content_hash(rows)
    provenance = provenance_of(ctx, rows, digest, certified=_is_certified(ctx, digest))
    with ctx.engine.connect() as conn:
        provenance["audit"] = chain_head(conn).as_json()
    if fmt == "csv":
        provenance["csv_formulas"] = GUARD_NOTE
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        write_hf_dataset(rows, path)
        (path / "labelloop_provenance.json").write_text(json.dumps(provenance, indent=2))
    else:
        write_rows(rows, path, fmt)
        path.with_name(path.name + ".provenance.json").write_text(json.dumps(provenance, indent=2))
    with ctx.writer.begin() as conn:
        found = record_version(conn, ctx, provenance)
        append_event(
            conn,
            actor=actor,
            action="dataset.export",
            project_id=ctx.id,
            payload={
                "version_id": found,
                "content_hash": digest,
                "format": fmt,
                "path": str(path),
                "n_items": len(rows),
            },
        )
    return DatasetVersion(int(found), digest, len(rows), path, provenance)


def read_anchor(path: Path) -> Anchor:
    """The audit anchor in an export's provenance: ``path`` is the provenance file, the exported
    file beside it, or a Hugging Face export's folder."""
    beside = path.with_name(path.name + ".provenance.json")
    if path.is_dir():
        path = path / "labelloop_provenance.json"
    elif beside.exists() or not path.exists():
        path = beside
    try:
        audit = json.loads(path.read_text(encoding="utf-8"))["audit"]
        return Anchor(int(audit["events"]), str(audit["head"]))
    except FileNotFoundError:
        raise ConfigError(f"anchor: no provenance file at {path}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"anchor: {path} holds no audit anchor ({exc!r})") from None

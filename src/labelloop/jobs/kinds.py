"""Job kinds: what a job of each kind does, registered by name in :data:`JOB_KINDS`.

A kind is ``work(project, params, progress, actor)``: it runs the job from its JSON ``params`` on
the project, may report progress (a count) and returns the job's JSON result. Every kind must be
safe to run again from the same parameters, since a job whose worker died is. A third-party kind
is a plugin: an entry point in the ``labelloop.jobs`` group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelloop.errors import InputFileError
from labelloop.registry import Registry

if TYPE_CHECKING:
    from labelloop.loop.project import Project

Progress = Callable[[int], None]
#: ``work(project, params, progress, actor)`` returns the job's JSON result.
Work = Callable[["Project", dict[str, Any], Progress, str], "dict[str, Any] | None"]

JOB_KINDS: Registry[Work] = Registry("job kind", entry_point_group="labelloop.jobs")

#: Most suspects a label-error check's result keeps (the job stores JSON).
MAX_SUSPECTS = 1000


@JOB_KINDS.register("import")
def import_items(
    project: Project, params: dict[str, Any], progress: Progress, actor: str
) -> dict[str, Any]:
    """Import a file (one transaction that skips the items it has: safe to repeat). Rejects name
    the file as ``params["shown_as"]`` (the name it was uploaded under), if given."""
    path = Path(params["path"])
    try:
        report = project.import_file(
            path,
            fmt=params["format"],
            skip_invalid=params["skip_invalid"],
            progress=progress,
            gold=params["gold"],
            actor=actor,
        )
    except InputFileError as exc:
        shown = params.get("shown_as")
        if shown is None:
            raise
        raise InputFileError(
            [replace(r, file=shown, reason=r.reason.replace(str(path), shown)) for r in exc.rejects]
        ) from None
    return {
        "added": report.added,
        "unchanged": report.unchanged,
        "with_labels": report.with_labels,
        "rejected": report.rejected,
        "holdout_added": report.holdout_added,
    }


@JOB_KINDS.register("train")
def train(
    project: Project, _params: dict[str, Any], _progress: Progress, actor: str
) -> dict[str, Any]:
    """Train, evaluate and maybe promote a model version, then rescore and route."""
    info = project.train(actor=actor)
    if info is None:
        return {"version": None, "reason": "too few labels, or a single class"}
    return asdict(info)


@JOB_KINDS.register("route")
def route(
    project: Project, _params: dict[str, Any], _progress: Progress, _actor: str
) -> dict[str, Any]:
    """Move the project's auto-accept state one step (evaluate a round whose audit items were
    answered; safe to repeat: a decided round is not evaluated again)."""
    outcome = project.route()
    return {"action": outcome.action, "reason": outcome.reason, "round_id": outcome.round_id}


@JOB_KINDS.register("label-errors")
def find_label_errors(
    project: Project, params: dict[str, Any], _progress: Progress, actor: str
) -> dict[str, Any]:
    """Rank likely wrong final labels (``top``, ``n_splits``); with ``route`` send them to the
    reviewer queue (an item already there is left alone: safe to repeat)."""
    found = project.find_label_errors(
        n_splits=params["n_splits"], top=params["top"], route=params["route"], actor=actor
    )
    return {
        "n_items": found.n_items,
        "n_flagged": found.n_flagged,
        "routed": found.routed,
        "truncated": len(found.suspects) > MAX_SUSPECTS,
        "suspects": [asdict(s) for s in found.suspects[:MAX_SUSPECTS]],
        "annotators": [asdict(a) for a in found.annotators],
    }

"""``labelloop jobs``: a project's background jobs, the failed ones with their reasons."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labelloop.jobs import Status

console = Console()


def jobs(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name.")],
    status: Annotated[Status | None, typer.Option(help="Only the jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a project's background jobs (imports, training, label-error checks), newest first:
    ``--status failed`` shows what failed and why."""
    from labelloop.cli.context import open_project
    from labelloop.jobs.queue import list_jobs

    opened = open_project(ctx, project, retrain="off")
    found = list_jobs(opened.engine, project_id=opened.id, status=status, limit=limit)
    if as_json:
        print(json.dumps(found, indent=2, default=str))
        return
    table = Table("job", "kind", "status", "by", "runs", "when", "error")
    table.columns[-1].ratio = 1  # the reason takes what the other columns leave
    for job in found:
        table.add_row(
            str(job["id"]),
            job["kind"],
            _status(job["status"]),
            escape(job["created_by"]),
            str(job["attempts"]),
            f"{job['finished_at'] or job['created_at']:%Y-%m-%d %H:%M}",
            escape(job["error"] or ""),
        )
    console.print(table)
    if not found:
        console.print(f"no {status + ' ' if status else ''}jobs in project {escape(project)!r}")


def _status(status: str) -> str:
    colour = {"failed": "red", "done": "green", "running": "yellow"}.get(status)
    return f"[{colour}]{status}[/]" if colour else status

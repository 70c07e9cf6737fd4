"""What every command shares: the store and the projects it opens, closed when it ends."""

from __future__ import annotations

from typing import Any

import typer


def engine_for(ctx: typer.Context) -> Any:
    """The store for this command, migrated, and closed when the command ends."""
    from labelloop.loop.project import connect

    engine = connect(ctx.obj)
    ctx.call_on_close(engine.dispose)
    return engine


def open_project(ctx: typer.Context, name: str, **kwargs: Any) -> Any:
    """The project ``name`` in this command's store, closed when the command ends."""
    from labelloop.loop.project import Project

    project = Project.open(name, engine=engine_for(ctx), settings=ctx.obj, **kwargs)
    ctx.call_on_close(project.close)
    return project

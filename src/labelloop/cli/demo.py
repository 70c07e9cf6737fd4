"""``labelloop demo``: a digits project with demo accounts, served on localhost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()

DEMO_ACCOUNTS = (  # a local demo only: the passwords are printed on start
    ("admin", "admin", "demo-admin-pw"),
    ("expert", "expert", "demo-expert-pw"),
    ("reviewer", "reviewer", "demo-reviewer-pw"),
    ("annotator", "annotator", "demo-annotator-pw"),
)


def prepare_demo(data_dir: Path) -> None:
    """Create the digits project, import its 1,797 images and the demo accounts, each a member
    of the project (idempotent)."""
    from labelloop.accounts.memberships import join
    from labelloop.accounts.users import create_user, list_users
    from labelloop.loop.project import Project, connect
    from labelloop.settings import Settings
    from labelloop.simulation.run import digits_data
    from labelloop.store.engine import writer
    from labelloop.store.lookups import project_id_by_name

    settings = Settings(data_dir=data_dir)
    engine = connect(settings)
    try:
        have = {user.username for user in list_users(engine, include_inactive=True)}
        with engine.connect() as conn:
            project_id = project_id_by_name(conn, "digits")
        for username, role, password in DEMO_ACCOUNTS:
            if username not in have:
                create_user(engine, username, password, role, actor="demo")
        if project_id is None:
            data = digits_data()
            project = Project.create(data.config, engine=engine, settings=settings, actor="demo")
            items = data_dir / "digits.jsonl"
            items.write_text("".join(json.dumps(r) + "\n" for r in data.records))
            project.import_file(items, actor="demo")
            project.close()
            project_id = project.id
        with writer(engine).begin() as conn:
            for username, _role, _password in DEMO_ACCOUNTS:
                join(conn, project_id=project_id, username=username, actor="demo")
    finally:
        engine.dispose()


def demo(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its SQLite store.")] = Path(
        "labelloop-demo"
    ),
) -> None:
    """Start a demo: the digits project, demo accounts, the server on localhost."""
    import os

    import uvicorn

    data_dir = data_dir.resolve()
    prepare_demo(data_dir)
    os.environ["LABELLOOP_DATA_DIR"] = str(data_dir)
    os.environ.pop("LABELLOOP_DATABASE_URL", None)
    os.environ.setdefault("LABELLOOP_LOG_LEVEL", "WARNING")  # no line per request
    console.print(f"labelloop demo on [bold]http://{host}:{port}/[/] (store: {data_dir})")
    for username, role, password in DEMO_ACCOUNTS:
        console.print(f"  {role:<10} user [bold]{username}[/] password {password}")
    console.print(f"health: http://{host}:{port}/api/v1/health")
    uvicorn.run(
        "labelloop.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,  # the app trusts only LABELLOOP_TRUSTED_PROXIES (server/app.py)
    )

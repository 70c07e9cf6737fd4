"""labelloop: self-hosted human-in-the-loop labelling with a closed quality loop.

The library API::

    from labelloop import Project, Settings, connect, load_config

    settings = Settings(data_dir="labelloop-data")
    project = Project.create(load_config("project.toml"), engine=connect(settings),
                             settings=settings)
    project.import_file("items.jsonl")
    for task in project.next_tasks(10):
        project.annotate(task.item_id, "positive", annotator="ana")
    project.train()          # also rescores, reorders the queue and routes
    project.export("out.parquet", fmt="parquet")

The names below load on first use, so ``import labelloop.quality`` or ``labelloop --help`` does
not pay for the store, the server or the HTTP client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelloop.client import Client
    from labelloop.config import ProjectConfig, load_config, parse_config
    from labelloop.loop.project import Project, connect
    from labelloop.settings import Settings
    from labelloop.simulation.run import run_simulation

__version__ = "0.1.0"

_LAZY = {
    "Client": "labelloop.client",
    "Project": "labelloop.loop.project",
    "ProjectConfig": "labelloop.config",
    "Settings": "labelloop.settings",
    "connect": "labelloop.loop.project",
    "load_config": "labelloop.config",
    "parse_config": "labelloop.config",
    "run_simulation": "labelloop.simulation.run",
}

__all__ = [
    "Client",
    "Project",
    "ProjectConfig",
    "Settings",
    "__version__",
    "connect",
    "load_config",
    "parse_config",
    "run_simulation",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'labelloop' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

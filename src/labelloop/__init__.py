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
"""

from labelloop.client import Client
from labelloop.config import ProjectConfig, load_config, parse_config
from labelloop.loop.project import Project, connect
from labelloop.loop.simulate import run_simulation
from labelloop.settings import Settings

__version__ = "0.1.0"

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

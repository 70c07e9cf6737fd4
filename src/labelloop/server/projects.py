"""The server's open projects: one :class:`Project` per name, shared by requests.

A ``Project`` keeps a feature cache and the current model in memory, and the process's job
worker runs jobs on it, so the server opens each project once and closes them all on shutdown.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from labelloop.loop.project import Project
from labelloop.settings import Settings


class ProjectCache:
    """Open projects by name; :meth:`close` lets go of the job worker they use."""

    def __init__(self, engine: Engine, settings: Settings, *, retrain: str = "background") -> None:
        self.engine = engine
        self.settings = settings
        self.retrain = retrain
        self._open: dict[str, Project] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Project:
        """The open project called ``name`` (:class:`NotFoundError` if there is none)."""
        with self._lock:
            project = self._open.get(name)
            if project is None:
                project = Project.open(
                    name, engine=self.engine, settings=self.settings, retrain=self.retrain
                )
                self._open[name] = project
            return project

    def close(self) -> None:
        """Close every open project."""
        with self._lock:
            projects, self._open = list(self._open.values()), {}
        for project in projects:
            project.close()

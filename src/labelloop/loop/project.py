"""A handle on one project in a store: the library API of the loop."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from labelloop.accounts.memberships import Membership, join, remove_membership, set_membership
from labelloop.config import ProjectConfig, parse_config
from labelloop.errors import ConfigError, NotFoundError
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import make_engine, upgrade, writer
from labelloop.store.events import append_event


@dataclass
class FeatureCache:
    """Model inputs of every item, built once per pool and reused by training and scoring."""

    item_ids: np.ndarray
    X: Any
    featurizer: Any

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in the cache."""
        return np.searchsorted(self.item_ids, ids)


@dataclass
class LoadedModel:
    """A model version in memory, ready to score."""

    version: int
    model: Any
    featurizer: Any
    calibrator: Any
    metrics: dict[str, Any] = field(default_factory=dict)


class Project:
    """One labelling project: its config, items, models, queue and labels.

    ``retrain`` decides what happens after every ``config.retrain.every`` new human labels:
    ``"background"`` trains on a worker thread, ``"sync"`` trains before ``annotate`` returns,
    ``"off"`` leaves it to explicit :meth:`train` calls.
    """

    def __init__(
        self,
        engine: Engine,
        project_id: int,
        config: ProjectConfig,
        *,
        settings: Settings | None = None,
        retrain: str = "background",
        random_state: int | None = None,
    ) -> None:
        if retrain not in ("background", "sync", "off"):
            raise ValueError(
                f"The 'retrain' parameter of Project must be one of background, sync, off. "
                f"Got {retrain!r} instead."
            )
        self.engine = engine
        self.writer = writer(engine)
        self.id = project_id
        self.config = config
        self.settings = settings or Settings()
        self.retrain = retrain
        self.rng = np.random.default_rng(random_state)
        self.random_state = random_state
        self._features: FeatureCache | None = None
        self._current: LoadedModel | None = None
        self._train_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._votes: Any = None
        #: (newest audit event id, answers table) of :func:`aggregating.answers_table`.
        self.answers_cache: tuple[int, Any] | None = None
        self.pending: Future[Any] | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        config: ProjectConfig | dict[str, Any],
        *,
        engine: Engine | None = None,
        settings: Settings | None = None,
        actor: str = "admin",
        **kwargs: Any,
    ) -> Project:
        """Create a project (migrating the store first); its guidelines become version 1, and
        ``actor``, when that names a user, becomes a member at their role's tier."""
        if isinstance(config, dict):
            config = parse_config(config)
        settings = settings or Settings()
        engine = engine or connect(settings)
        with writer(engine).begin() as conn:
            if conn.execute(
                select(t.projects.c.id).where(t.projects.c.name == config.name)
            ).first():
                raise ConfigError(f"name: a project called {config.name!r} exists already")
            project_id = t.inserted_id(
                conn.execute(
                    t.projects.insert().values(
                        name=config.name, config=config.model_dump(mode="json")
                    )
                )
            )
            conn.execute(
                t.guidelines.insert().values(
                    project_id=project_id, version=1, text=config.guidelines, author=actor
                )
            )
            append_event(
                conn,
                actor=actor,
                action="project.create",
                project_id=project_id,
                payload={"name": config.name, "config": config.model_dump(mode="json")},
            )
            join(conn, project_id=project_id, username=actor, actor=actor)
        return cls(engine, project_id, config, settings=settings, **kwargs)

    @classmethod
    def open(
        cls,
        name: str,
        *,
        engine: Engine | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> Project:
        """Open an existing project by name."""
        settings = settings or Settings()
        engine = engine or connect(settings)
        with engine.connect() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no project called {name!r}")
        return cls(
            engine,
            row.id,
            parse_config(row.config, source=f"project {name}"),
            settings=settings,
            **kwargs,
        )

    @property
    def name(self) -> str:
        """The project's name."""
        return self.config.name

    # -- guidelines ----------------------------------------------------------------------

    def guideline_version(self) -> int:
        """The current guideline version."""
        with self.engine.connect() as conn:
            return t.latest_version(conn, t.guidelines, self.id) or 1

    def guidelines(self) -> str:
        """The current guideline text."""
        with self.engine.connect() as conn:
            return str(
                conn.execute(
                    select(t.guidelines.c.text)
                    .where(t.guidelines.c.project_id == self.id)
                    .order_by(t.guidelines.c.version.desc())
                    .limit(1)
                ).scalar()
                or ""
            )

    def update_guidelines(self, text: str, *, author: str) -> int:
        """Store a new guideline version; later annotations record it."""
        with self.writer.begin() as conn:
            version = t.latest_version(conn, t.guidelines, self.id) + 1
            conn.execute(
                t.guidelines.insert().values(
                    project_id=self.id, version=version, text=text, author=author
                )
            )
            append_event(
                conn,
                actor=author,
                action="guidelines.update",
                project_id=self.id,
                payload={"version": version, "chars": len(text)},
            )
        return int(version)

    # -- members -------------------------------------------------------------------------

    def add_member(
        self,
        username: str,
        *,
        tier: str | None = None,
        skills: Iterable[str] = (),
        actor: str = "system",
    ) -> Membership:
        """Put ``username`` on the project (or change their tier and skills there; clears a
        flag): only admins and members see a project on the server."""
        return set_membership(
            self.engine,
            project_id=self.id,
            username=username,
            tier=tier,
            skills=skills,
            actor=actor,
        )

    def remove_member(self, username: str, *, actor: str) -> None:
        """Take ``username`` off the project; the leases they hold go back to the queue and an
        answer on one of them is refused."""
        from labelloop.loop.gold import release_leases

        with self.writer.begin() as conn:
            remove_membership(conn, project_id=self.id, username=username, actor=actor)
            release_leases(conn, self, username)

    # -- the loop's steps (each lives in its own module) ---------------------------------

    def import_file(self, path: str | Path, **kwargs: Any) -> Any:
        """Import items from JSONL, CSV or Parquet (see :mod:`labelloop.loop.importing`)."""
        from labelloop.loop.importing import import_file

        report = import_file(self, Path(path), **kwargs)
        self._features = None
        return report

    def next_tasks(self, n: int = 1, **kwargs: Any) -> list[Any]:
        """Hand out the ``n`` most valuable open tasks; see :mod:`labelloop.loop.queue`."""
        from labelloop.loop.queue import next_tasks

        return next_tasks(self, n, **kwargs)

    def retract(self, task_id: int, *, annotator: str, now: datetime | None = None) -> Any:
        """Undo one's answer to a task and get the task back; see :func:`labels.retract`."""
        from labelloop.loop.labels import retract

        return retract(self, task_id, annotator=annotator, now=now)

    def aggregator(self) -> Any:
        """The project's truth inference for one item's answers (see
        :mod:`labelloop.loop.aggregating`)."""
        from labelloop.loop.aggregating import VoteModel

        if self._votes is None:
            self._votes = VoteModel(self)
        return self._votes

    def skip_task(self, task_id: int, *, annotator: str) -> None:
        """Give a leased task back unanswered."""
        from labelloop.loop.queue import skip_task

        skip_task(self, task_id, annotator=annotator)

    def annotate(self, item_id: int, label: Any, **kwargs: Any) -> Any:
        """Record a human label; may trigger retraining. See :mod:`labelloop.loop.labels`."""
        from labelloop.loop.labels import annotate

        result = annotate(self, item_id, label, **kwargs)
        if result.created:
            if result.round_id is not None:
                self.route()  # an audit answer may complete its round
            self._maybe_retrain()
        return result

    def train(self, *, actor: str = "system") -> Any:
        """Train a model version now, promote it if not worse, rescore and route."""
        from labelloop.loop.routing import route
        from labelloop.loop.training import train

        with self._train_lock:
            version = train(self, actor=actor)
            route(self)
        return version

    def route(self) -> Any:
        """Evaluate or start an auto-accept round; see :mod:`labelloop.loop.routing`."""
        from labelloop.loop.routing import route

        return route(self)

    def export(self, path: str | Path, *, fmt: str, actor: str = "system") -> Any:
        """Write the labelled dataset as an immutable, content-hashed version."""
        from labelloop.loop.exporting import export

        return export(self, Path(path), fmt=fmt, actor=actor)

    def annotator_report(self) -> list[dict[str, Any]]:
        """Per person: gold accuracy with its interval, Dawid-Skene accuracy, flag."""
        from labelloop.loop.annotator_skill import annotator_report

        return annotator_report(self)

    def estimated_accuracy(self) -> dict[str, Any]:
        """The finished dataset's estimated accuracy and interval (:mod:`labelloop.loop.gates`)."""
        from labelloop.loop.gates import estimated_accuracy

        return estimated_accuracy(self)

    def check_gates(self, **kwargs: Any) -> list[Any]:
        """Every quality gate's verdict; see :func:`labelloop.loop.gates.check_gates`."""
        from labelloop.loop.gates import check_gates

        return check_gates(self, **kwargs)

    def certify(self, *, actor: str = "system") -> dict[str, Any]:
        """Certify the current dataset if every gate passes (else ConflictError naming them)."""
        from labelloop.loop.gates import certify

        return certify(self, actor=actor)

    def find_label_errors(self, **kwargs: Any) -> Any:
        """Rank likely wrong final labels; ``route=True`` sends them to the reviewer queue
        (see :mod:`labelloop.loop.label_errors`)."""
        from labelloop.loop.label_errors import find_project_label_errors

        return find_project_label_errors(self, **kwargs)

    def status(self) -> dict[str, Any]:
        """Counts of items by state, the queue per tier, model versions and rounds."""
        from labelloop.loop.reporting import status

        return status(self)

    def agreement_report(self, **kwargs: Any) -> dict[str, Any]:
        """Agreement overall (with a bootstrap interval), per label, per annotator pair and per
        slice; see :mod:`labelloop.loop.agreement_report`."""
        from labelloop.loop.agreement_report import agreement_report

        return agreement_report(self, **kwargs)

    def guideline_report(self, **kwargs: Any) -> dict[str, Any]:
        """The label pairs people split on most and the human–model confusion, with examples."""
        from labelloop.loop.agreement_report import guideline_report

        return guideline_report(self, **kwargs)

    # -- caches used by the steps --------------------------------------------------------

    def features(self) -> FeatureCache:
        """Model inputs for every item (built once per pool)."""
        from labelloop.learn.features import make_featurizer

        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(t.items).where(t.items.c.project_id == self.id)
            ).scalar()
            if self._features is None or len(self._features.item_ids) != count:
                rows = conn.execute(
                    select(t.items.c.id, t.items.c.data)
                    .where(t.items.c.project_id == self.id)
                    .order_by(t.items.c.id)
                ).all()
                featurizer = make_featurizer(self.config)
                X = featurizer.fit_transform([r.data for r in rows])
                self._features = FeatureCache(
                    np.array([r.id for r in rows], dtype=np.int64), X, featurizer
                )
        return self._features

    def current_model(self) -> LoadedModel | None:
        """The promoted model version, loaded on first use."""
        from labelloop.learn.persistence import load_model

        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.model_versions)
                .where(
                    t.model_versions.c.project_id == self.id,
                    t.model_versions.c.status == "promoted",
                )
                .order_by(t.model_versions.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        if self._current is None or self._current.version != row.version:
            model, featurizer, calibrator, _meta = load_model(Path(row.path))
            self._current = LoadedModel(row.version, model, featurizer, calibrator, row.metrics)
        return self._current

    def remember(self, loaded: LoadedModel) -> None:
        """Keep a freshly promoted model in memory."""
        self._current = loaded

    def _maybe_retrain(self) -> None:
        if self.retrain == "off":
            return
        from labelloop.loop.training import labels_since_last_model

        if labels_since_last_model(self) < self.config.retrain.every:
            return
        if self.retrain == "sync":
            self.train()
            return
        if self.pending is not None and not self.pending.done():
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrain")
        self.pending = self._executor.submit(self.train)

    def wait(self) -> None:
        """Block until a background retrain (if any) has finished; re-raise its error."""
        if self.pending is not None:
            self.pending.result()

    def close(self) -> None:
        """Finish background work and release the worker thread."""
        self.wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


def connect(settings: Settings | None = None, url: str | None = None) -> Engine:
    """Open the store, bring its schema up to date, and sign its audit log with the audit key
    (events from before the keyed chain are re-signed once, see :func:`seal_unkeyed`)."""
    from labelloop.store.audit_key import audit_key
    from labelloop.store.events import seal_unkeyed

    settings = settings or Settings()
    engine = make_engine(
        url or settings.resolved_database_url(),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        audit_key=audit_key(settings),
    )
    upgrade(engine)
    with writer(engine).begin() as conn:
        seal_unkeyed(conn)
    return engine

"""A handle on one project in a store: the library's front to the loop.

:class:`Project` holds a :class:`~labelloop.loop.context.LoopContext` and one of each state
holder (feature cache, model registry, answers table, vote model) and hands them to the steps,
plain functions in the modules of :mod:`labelloop.loop`; it adds no logic of its own but the
choice of what a due retrain does.

The steps that train or judge models load scikit-learn, SciPy's statistics and pandas; they are
imported when first used, so a process that only hands out and records work never pays for them
(``tests/test_lazy_imports.py``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, select

from labelloop.accounts.memberships import Membership, join, remove_membership, set_membership
from labelloop.config import ProjectConfig, parse_config
from labelloop.errors import ConfigError, NotFoundError
from labelloop.jobs import queue as job_queue
from labelloop.jobs.worker import Worker, attach, detach
from labelloop.loop import (
    agreement_report,
    annotator_skill,
    audit_rounds,
    dispatch,
    exporting,
    gates,
    gold,
    importing,
    reporting,
    retraction,
    submission,
    training_set,
)
from labelloop.loop import queue as task_queue
from labelloop.loop.aggregating import AnswersCache, VoteModel
from labelloop.loop.context import LoopContext
from labelloop.loop.feature_cache import FeatureCache, Features
from labelloop.loop.model_registry import LoadedModel, ModelRegistry
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import make_engine, upgrade, writer
from labelloop.store.events import append_event

if TYPE_CHECKING:
    from labelloop.loop.audit_rounds import RouteOutcome
    from labelloop.loop.exporting import DatasetVersion
    from labelloop.loop.gates import Gate
    from labelloop.loop.importing import ImportReport
    from labelloop.loop.queue import Task
    from labelloop.loop.submission import AnnotationResult
    from labelloop.loop.suspect_labels import ProjectSuspects
    from labelloop.loop.training import ModelVersionInfo

RETRAIN_MODES = ("background", "sync", "off")
#: Job ids a handle remembers for :meth:`Project.wait`.
MAX_PENDING = 1000


class Project:
    """One labelling project: its config, items, models, queue and labels.

    ``retrain`` decides what happens after every ``config.retrain.every`` new human labels:
    ``"background"`` queues a durable "train" job (one at a time per project) that this process's
    job worker runs, ``"sync"`` trains before ``annotate`` returns, ``"off"`` leaves it to explicit
    :meth:`train` calls. In ``"background"`` a routing round whose audit item was answered is
    evaluated by a durable "route" job too; otherwise before ``annotate`` returns.
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
        if retrain not in RETRAIN_MODES:
            raise ValueError(
                f"The 'retrain' parameter of Project must be one of {', '.join(RETRAIN_MODES)}. "
                f"Got {retrain!r} instead."
            )
        self.context = LoopContext(
            engine, project_id, config, settings or Settings(), random_state=random_state
        )
        self.retrain = retrain
        self.features = Features()
        self.models = ModelRegistry()
        self.answers = AnswersCache()
        self.votes = VoteModel(self.context, self.answers)
        self._train_lock = threading.Lock()
        self._worker: Worker | None = None  # the job worker this handle attached to
        #: Ids of the jobs this handle queued that :meth:`wait` has not reported yet.
        #: (A server never waits: only the newest are kept.)
        self.pending: deque[int] = deque(maxlen=MAX_PENDING)

    # -- what the context holds ----------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The store."""
        return self.context.engine

    @property
    def writer(self) -> Engine:
        """The store, for write transactions."""
        return self.context.writer

    @property
    def id(self) -> int:
        """The project's id in the store."""
        return self.context.id

    @property
    def config(self) -> ProjectConfig:
        """The project's configuration."""
        return self.context.config

    @property
    def settings(self) -> Settings:
        """Where and how labelloop runs."""
        return self.context.settings

    @property
    def rng(self) -> np.random.Generator:
        """The generator randomised steps draw from."""
        return self.context.rng

    @property
    def random_state(self) -> int | None:
        """The seed of :attr:`rng` and of model training."""
        return self.context.random_state

    @property
    def name(self) -> str:
        """The project's name."""
        return self.context.name

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        config: ProjectConfig | dict[str, Any],
        *,
        engine: Engine | None = None,
        settings: Settings | None = None,
        actor: str = "admin",
        retrain: str = "background",
        random_state: int | None = None,
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
        return cls(
            engine,
            project_id,
            config,
            settings=settings,
            retrain=retrain,
            random_state=random_state,
        )

    @classmethod
    def open(
        cls,
        name: str,
        *,
        engine: Engine | None = None,
        settings: Settings | None = None,
        retrain: str = "background",
        random_state: int | None = None,
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
            retrain=retrain,
            random_state=random_state,
        )

    # -- guidelines ----------------------------------------------------------------------

    def guideline_version(self) -> int:
        """The current guideline version."""
        with self.engine.connect() as conn:
            return t.latest_version(conn, t.guidelines, self.id) or 1

    def guidelines(self) -> str:
        """The current guideline text."""
        with self.engine.connect() as conn:
            return t.current_guidelines(conn, self.id)

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
        with self.writer.begin() as conn:
            remove_membership(conn, project_id=self.id, username=username, actor=actor)
            gold.release_leases(conn, self.context, username)

    # -- the loop's steps (each lives in its own module) ---------------------------------

    def import_file(
        self,
        path: str | Path,
        *,
        fmt: str | None = None,
        skip_invalid: bool = False,
        rejects_path: Path | None = None,
        progress: Callable[[int], None] | None = None,
        gold: bool = False,
        actor: str = "system",
    ) -> ImportReport:
        """Import items from JSONL, CSV or Parquet (see :mod:`labelloop.loop.importing`)."""
        report = importing.import_file(
            self.context,
            Path(path),
            fmt=fmt,
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            gold=gold,
            actor=actor,
        )
        self.features.forget()
        return report

    def next_tasks(
        self,
        n: int = 1,
        *,
        tier: str = "annotator",
        annotator: str = "anonymous",
        skills: Sequence[str] | None = None,
        resume: bool = False,
        max_leases: int | None = None,
        now: datetime | None = None,
    ) -> list[Task]:
        """Hand out the ``n`` most valuable open tasks; see :mod:`labelloop.loop.queue`."""
        return task_queue.next_tasks(
            self.context,
            n,
            tier=tier,
            annotator=annotator,
            skills=skills,
            resume=resume,
            max_leases=max_leases,
            now=now,
        )

    def skip_task(self, task_id: int, *, annotator: str) -> None:
        """Give a leased task back unanswered."""
        task_queue.skip_task(self.context, task_id, annotator=annotator)

    def submit(
        self,
        task_id: int,
        answer: Any,
        *,
        person: str,
        client_key: str | None = None,
        flag: str | None = None,
    ) -> AnnotationResult:
        """``person``'s answer to their own task, as one unit of work, then the reactions to
        what it led to (:func:`~labelloop.loop.submission.submit`, :mod:`~labelloop.loop.dispatch`).
        """
        result = submission.submit(
            self.context,
            self.votes,
            task_id,
            answer,
            person=person,
            client_key=client_key,
            flag=flag,
            watch_retrain=self.retrain != "off",
        )
        dispatch.dispatch(self, result.outcomes)
        return result

    def annotate(
        self,
        item_id: int,
        label: Any,
        *,
        annotator: str,
        task_id: int | None = None,
        client_key: str | None = None,
        flag: str | None = None,
    ) -> AnnotationResult:
        """Record a human label on an item (the library trusts its caller with any task id),
        then the reactions to what it led to. See :func:`labelloop.loop.submission.annotate`."""
        result = submission.annotate(
            self.context,
            self.votes,
            item_id,
            label,
            annotator=annotator,
            task_id=task_id,
            client_key=client_key,
            flag=flag,
            watch_retrain=self.retrain != "off",
        )
        dispatch.dispatch(self, result.outcomes)
        return result

    def retract(self, task_id: int, *, annotator: str, now: datetime | None = None) -> datetime:
        """Undo one's answer to a task and get the task back (:mod:`~labelloop.loop.retraction`)."""
        return retraction.retract(self.context, task_id, annotator=annotator, now=now)

    def train(self, *, actor: str = "system") -> ModelVersionInfo | None:
        """Train a model version now, promote it if not worse, rescore and route."""
        from labelloop.loop import training  # scikit-learn: imported on first use

        with self._train_lock:
            version = training.train(self.context, self.features, self.models, actor=actor)
            audit_rounds.route(self.context)
        return version

    def labels_since_last_model(self) -> int:
        """Training labels gathered since the newest model version was trained."""
        with self.engine.connect() as conn:
            return training_set.labels_since_last_model(conn, self.id)

    def route(self) -> RouteOutcome:
        """Evaluate or start an auto-accept round; see :mod:`labelloop.loop.audit_rounds`."""
        return audit_rounds.route(self.context)

    def export(self, path: str | Path, *, fmt: str, actor: str = "system") -> DatasetVersion:
        """Write the labelled dataset as an immutable, content-hashed version."""
        return exporting.export(self.context, Path(path), fmt=fmt, actor=actor)

    def annotator_report(self) -> list[dict[str, Any]]:
        """Per person: gold accuracy with its interval, Dawid-Skene accuracy, flag."""
        return annotator_skill.annotator_report(self.context, self.answers)

    def estimated_accuracy(self) -> dict[str, Any]:
        """The finished dataset's estimated accuracy and interval (:mod:`labelloop.loop.gates`)."""
        return gates.estimated_accuracy(self.context, self.answers)

    def check_gates(self, *, accuracy: dict[str, Any] | None = None) -> list[Gate]:
        """Every quality gate's verdict; see :func:`labelloop.loop.gates.check_gates`."""
        return gates.check_gates(self.context, self.answers, accuracy=accuracy)

    def certify(self, *, actor: str = "system") -> dict[str, Any]:
        """Certify the current dataset if every gate passes (else ConflictError naming them)."""
        return gates.certify(self.context, self.answers, actor=actor)

    def find_label_errors(
        self,
        *,
        n_splits: int = 5,
        top: int | None = None,
        route: bool = False,
        actor: str = "system",
    ) -> ProjectSuspects:
        """Rank likely wrong final labels; ``route=True`` sends them to the reviewer queue
        (see :mod:`labelloop.loop.suspect_labels`)."""
        from labelloop.loop import suspect_labels  # scikit-learn: imported on first use

        return suspect_labels.find_project_label_errors(
            self.context, self.features, n_splits=n_splits, top=top, route=route, actor=actor
        )

    def status(self) -> dict[str, Any]:
        """Counts of items by state, the queue per tier, model versions and rounds."""
        return reporting.status(self.context)

    def agreement_report(
        self,
        *,
        slice_field: str | None = None,
        n_resamples: int = 200,
        confidence: float = 0.95,
        min_pair_overlap: int = 5,
        random_state: int | np.random.Generator | None = 0,
    ) -> dict[str, Any]:
        """Agreement overall (with a bootstrap interval), per label, per annotator pair and per
        slice; see :mod:`labelloop.loop.agreement_report`."""
        return agreement_report.agreement_report(
            self.context,
            self.answers,
            slice_field=slice_field,
            n_resamples=n_resamples,
            confidence=confidence,
            min_pair_overlap=min_pair_overlap,
            random_state=random_state,
        )

    def guideline_report(self, *, top: int = 5, examples: int = 3) -> dict[str, Any]:
        """The label pairs people split on most and the human–model confusion, with examples."""
        return agreement_report.guideline_report(
            self.context, self.answers, top=top, examples=examples
        )

    def current_model(self) -> LoadedModel | None:
        """The promoted model version, loaded on first use."""
        return self.models.current(self.context)

    def feature_cache(self) -> FeatureCache:
        """Model inputs for every item (built once per pool)."""
        return self.features.get(self.context)

    # -- background work -----------------------------------------------------------------

    def round_answered(self) -> None:
        """An audit item was answered: evaluate its routing round now (``sync``, ``off``) or in
        a durable "route" job (``background``; one waits at most, behind a running one)."""
        if self.retrain != "background":
            self.route()
            return
        self.pending.append(
            self._ensure_worker().submit(
                kind="route", project_id=self.id, params={}, created_by="system", once="queued"
            )
        )

    def retrain_due(self) -> None:
        """Enough new labels for a model: train now (``sync``), queue a train job
        (``background``) or leave it (``off``)."""
        if self.retrain == "off":
            return
        if self.retrain == "sync":
            self.train()
            return
        self.pending.append(
            self._ensure_worker().submit(
                kind="train", project_id=self.id, params={}, created_by="system", once="active"
            )
        )

    def _ensure_worker(self) -> Worker:
        """This process's job worker, attached to once per handle (it runs this project's jobs
        on this handle, other projects' on ones it opens)."""
        if self._worker is None:

            def open_project(name: str) -> Project:
                if name == self.name:
                    return self
                return Project.open(name, engine=self.engine, settings=self.settings)

            self._worker = attach(
                self.engine, open_project, interval=self.settings.job_heartbeat_seconds
            )
        return self._worker

    def wait(self) -> None:
        """Block until the project's queued and running jobs, and those this handle queued, have
        ended; :class:`~labelloop.errors.JobFailed` names the first that failed and why."""
        awaited = set(self.pending) | job_queue.active_ids(self.engine, project_id=self.id)
        if not awaited:
            return
        self._ensure_worker()  # queued jobs need a worker, if nobody else runs one
        self.pending.clear()
        job_queue.wait_for(self.engine, awaited)

    def close(self) -> None:
        """Let go of the job worker; the last to let go stops it after the job it is running
        (queued jobs stay queued in the store, for the next worker)."""
        if self._worker is not None:
            detach(self._worker)
            self._worker = None


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

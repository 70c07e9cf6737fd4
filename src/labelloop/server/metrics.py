"""Prometheus metrics: what each process counts, and what the store holds at scrape time.

Counted by each process (summed over ``labelloop serve --workers N`` through prometheus-client's
multiprocess mode, whose files live in ``PROMETHEUS_MULTIPROC_DIR``)::

    labelloop_http_requests_total{method, route, status}
    labelloop_http_request_duration_seconds{method, route}        histogram
    labelloop_api_annotations_submitted_total{project}
    labelloop_password_hashes_total                               argon2 hashes computed

Read from the store at each scrape, so every worker answers the same::

    labelloop_store_up                          1, or 0 when the store does not answer
    labelloop_queue_items{project, tier}        items waiting for people at each tier (0 included)
    labelloop_leased_tasks{project, tier}       tasks handed out and not yet answered (0 included)
    labelloop_items{project, status}            items by status
    labelloop_annotations_total{project}        answers stored (never deleted; rate() = answers/s)
    labelloop_model_version{project}            the promoted model version (0: none yet)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from labelloop.store import tables as t
from labelloop.tiers import TIERS


class Metrics:
    """This process's counters and latency histogram; ``multiprocess_dir`` when several worker
    processes share them (prometheus-client must then have been imported with
    ``PROMETHEUS_MULTIPROC_DIR`` set to it)."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.requests = Counter(
            "labelloop_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=None,
        )
        self.latency = Histogram(
            "labelloop_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            registry=None,
        )
        self.annotations_submitted = Counter(
            "labelloop_api_annotations_submitted",
            "Answers submitted through the API and stored.",
            ["project"],
            registry=None,
        )
        self.password_hashes = Counter(
            "labelloop_password_hashes",
            "Argon2 password hashes computed: logins, password changes and resets.",
            registry=None,
        )

    @classmethod
    def from_environ(cls) -> Metrics:
        """Shared through ``PROMETHEUS_MULTIPROC_DIR`` when it is set (``labelloop serve``
        sets it for several workers), this process's own otherwise."""
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        return cls(Path(folder) if folder else None)

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)

    def scrape(self, engine: Engine) -> bytes:
        """The exposition text: this process's (or all workers') metrics and the store's."""
        registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess_dir is not None:
            MultiProcessCollector(registry, path=str(self.multiprocess_dir))
        else:
            for metric in (
                self.requests,
                self.latency,
                self.annotations_submitted,
                self.password_hashes,
            ):
                registry.register(metric)
        registry.register(StoreCollector(engine))
        return generate_latest(registry)


class StoreCollector(Collector):
    """Gauges counted in the store when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        return []  # the names vary with the store's answer; nothing to check up front

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("labelloop_store_up", "Whether the store answered the scrape.")
        try:
            families = list(self._families())
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        p, i, tk, a, mv = t.projects, t.items, t.tasks, t.annotations, t.model_versions
        item_tier = func.coalesce(i.c.tier, "annotator")
        with self.engine.connect() as conn:
            names = dict(conn.execute(select(p.c.id, p.c.name)).all())
            queue = _counts(conn, i.c.project_id, item_tier, where=i.c.status == "new")
            leased = _counts(conn, tk.c.project_id, tk.c.tier, where=tk.c.status == "open")
            items = _counts(conn, i.c.project_id, i.c.status)
            answers = _counts(conn, a.c.project_id)
            models = _counts(
                conn, mv.c.project_id, where=mv.c.status == "promoted", value=func.max(mv.c.version)
            )
        # Every project and tier has a value, 0 included: a series that vanishes is no zero.
        per_tier = [(pid, name, tier) for pid, name in names.items() for tier in TIERS]
        yield _family(
            GaugeMetricFamily,
            "labelloop_queue_items",
            "Items waiting for people at a tier (as labelloop status counts them).",
            ["project", "tier"],
            {(name, tier): queue.get((pid, tier), 0) for pid, name, tier in per_tier},
        )
        yield _family(
            GaugeMetricFamily,
            "labelloop_leased_tasks",
            "Tasks handed out and not yet answered.",
            ["project", "tier"],
            {(name, tier): leased.get((pid, tier), 0) for pid, name, tier in per_tier},
        )
        yield _family(
            GaugeMetricFamily,
            "labelloop_items",
            "Items by status.",
            ["project", "status"],
            {(names[pid], status): n for (pid, status), n in items.items() if pid in names},
        )
        yield _family(
            CounterMetricFamily,
            "labelloop_annotations",
            "Answers stored, from any source (rate() gives answers per second).",
            ["project"],
            {(name,): answers.get((pid,), 0) for pid, name in names.items()},
        )
        yield _family(
            GaugeMetricFamily,
            "labelloop_model_version",
            "The promoted model version (0: none yet).",
            ["project"],
            {(name,): models.get((pid,)) or 0 for pid, name in names.items()},
        )


def _counts(
    conn: Connection, *columns: Any, where: Any = None, value: Any = None
) -> dict[Any, Any]:
    """``{(column values…): count (or value)}`` grouped by ``columns``."""
    query = select(*columns, func.count() if value is None else value).group_by(*columns)
    if where is not None:
        query = query.where(where)
    return {tuple(row[:-1]): row[-1] for row in conn.execute(query)}


def _family(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    values: dict[tuple[str, ...], float],
) -> Metric:
    family = kind(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family

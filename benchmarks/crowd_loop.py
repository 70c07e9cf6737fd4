"""The human side of the loop on real crowd answers: label accuracy against answers per item.

Each set's items go through a real project (SQLite, the queue, leases, aggregation, escalation).
Whoever takes a task answers with the next unused real answer to that item from the set's
crowd, under that worker's id. The sets have no experts, so nobody answers the reviewer tier:
escalated items are counted, and scored as the majority of the answers they got (what a team
without reviewers would keep). Configurations:

* fixed overlap 1, and 3 (majority; a tie goes to a reviewer);
* dynamic overlap from 2 up to 5, with majority vote or Dawid-Skene posteriors: an item whose
  best posterior is under the threshold goes to one more person, then to a reviewer.

Reported: accuracy of the items the crowd settled, the share escalated, accuracy over all items
(escalated ones by majority), answers used per item — beside every available answer aggregated
offline by Dawid-Skene.

    python benchmarks/crowd_loop.py [--quick] [--datasets sentiment,rte] [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from sqlalchemy import select

from benchmarks.truth_inference import Crowd, load
from labelloop.loop.project import Project, connect
from labelloop.quality.aggregation import DawidSkene
from labelloop.settings import Settings
from labelloop.store import tables as t


@dataclass(frozen=True)
class Setup:
    """One way of collecting answers."""

    name: str
    overlap: int
    max_overlap: int | None = None
    aggregation: str = "majority"
    min_posterior: float | None = None


SETUPS = (
    Setup("overlap 1", 1),
    Setup("overlap 3, majority", 3),
    Setup("dynamic 2-5, majority >= 0.75", 2, 5, "majority", 0.75),
    Setup("dynamic 2-5, Dawid-Skene >= 0.95", 2, 5, "dawid-skene", 0.95),
)
DATASETS = ("sentiment", "rte", "dog", "duck")


@dataclass(frozen=True)
class Outcome:
    dataset: str
    setup: str
    settled_accuracy: float
    accuracy: float
    answers_per_item: float
    escalated: float
    seconds: float


def _answers(crowd: Crowd, rng: np.random.Generator) -> dict[str, list[tuple[str, str]]]:
    by_item: dict[str, list[tuple[str, str]]] = {}
    for item, who, label in zip(crowd.items, crowd.annotators, crowd.labels, strict=True):
        by_item.setdefault(str(item), []).append((str(who), str(label)))
    for answers in by_item.values():
        rng.shuffle(answers)  # type: ignore[arg-type]
    return by_item


def run_setup(crowd: Crowd, setup: Setup, seed: int, limit: int | None) -> Outcome:
    """Label every item of ``crowd`` through a project collecting answers the ``setup`` way."""
    rng = np.random.default_rng(seed)
    answers = _answers(crowd, rng)
    keys = sorted(answers)[:limit] if limit else sorted(answers)
    labels = sorted({str(x) for x in crowd.labels} | set(crowd.truth.values()))
    quality = {"aggregation": setup.aggregation}
    if setup.max_overlap:
        quality |= {"max_overlap": setup.max_overlap, "min_posterior": setup.min_posterior}
    config = {
        "name": "crowd",
        "labels": labels,
        "routing": {"holdout_size": 10},
        "retrain": {"every": 10**6},
        "tasks": {"overlap": setup.overlap},
        "quality": quality,
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        project = Project.create(
            config, engine=connect(settings), settings=settings, retrain="off", random_state=seed
        )
        try:
            items = Path(tmp) / "items.jsonl"
            items.write_text(
                "".join(json.dumps({"id": k, "text": f"item {k}"}) + "\n" for k in keys)
            )
            project.import_file(items)
            used, escalated = _collect(project, answers)
            with project.engine.connect() as conn:
                finals = conn.execute(
                    select(t.items.c.key, t.final_labels.c.label).join(
                        t.final_labels, t.final_labels.c.item_id == t.items.c.id
                    )
                ).all()
                given = conn.execute(
                    select(t.items.c.key, t.annotations.c.label).join(
                        t.annotations, t.annotations.c.item_id == t.items.c.id
                    )
                ).all()
        finally:
            project.close()
            project.engine.dispose()
    decided = {key.removeprefix("id:"): label for key, label in finals}
    votes: dict[str, Counter[str]] = {}
    for key, label in given:
        votes.setdefault(key.removeprefix("id:"), Counter())[label] += 1
    fallback = {k: v.most_common(1)[0][0] for k, v in votes.items()}
    scored = [k for k in keys if k in crowd.truth]
    settled = [k for k in scored if k in decided]
    right = sum(decided.get(k, fallback.get(k)) == crowd.truth[k] for k in scored)
    settled_right = sum(decided[k] == crowd.truth[k] for k in settled)
    return Outcome(
        crowd.name,
        setup.name,
        settled_right / len(settled) if settled else float("nan"),
        right / len(scored),
        used / len(keys),
        escalated / len(keys),
        time.perf_counter() - start,
    )


def _collect(project: Project, answers: dict[str, list[tuple[str, str]]]) -> tuple[int, int]:
    """Hand out annotator tasks round by round until none is waiting; (answers, escalations)."""
    pointer = dict.fromkeys(answers, 0)
    used = escalated = 0
    for turn in range(100):
        tasks = project.next_tasks(10**6, annotator=f"slot{turn}")
        if not tasks:
            break
        for task in tasks:
            key = task.key.removeprefix("id:")
            if pointer[key] >= len(answers[key]):
                continue  # no crowd answer left: the lease stays open, the item undecided
            who, label = answers[key][pointer[key]]
            pointer[key] += 1
            used += 1
            result = project.annotate(task.item_id, label, annotator=who, task_id=task.id)
            escalated += int(result.escalated)
    return used, escalated


def offline_reference(crowd: Crowd, keys: set[str]) -> tuple[float, float]:
    """Dawid-Skene over every answer to ``keys``: (accuracy, answers per item)."""
    mask = np.isin(crowd.items.astype(str), list(keys))
    fitted = DawidSkene(random_state=0).fit(
        crowd.items[mask], crowd.annotators[mask], crowd.labels[mask]
    )
    predicted = dict(zip(map(str, fitted.item_ids_), map(str, fitted.labels_), strict=True))
    scored = [k for k in keys if k in crowd.truth]
    right = sum(predicted.get(k) == crowd.truth[k] for k in scored)
    return right / len(scored), int(mask.sum()) / len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 items of one set")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    names = ["sentiment"] if args.quick else args.datasets.split(",")
    limit = 200 if args.quick else None
    header = (
        f"{'data':<10} {'setup':<34} {'settled acc':>11} {'escalated':>10} {'all acc':>8} "
        f"{'answers/item':>13} {'s':>6}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        crowd = load(name)
        if crowd is None:
            print(f"{name:<10} (not in the data folder: skipped)")
            continue
        keys = (
            set(sorted({str(i) for i in crowd.items})[:limit])
            if limit
            else {str(i) for i in crowd.items}
        )
        for setup in SETUPS:
            runs = [run_setup(crowd, setup, seed, limit) for seed in range(args.seeds)]
            print(
                f"{name:<10} {setup.name:<34} "
                f"{np.mean([r.settled_accuracy for r in runs]):>11.3f} "
                f"{np.mean([r.escalated for r in runs]):>10.3f} "
                f"{np.mean([r.accuracy for r in runs]):>8.3f} "
                f"{np.mean([r.answers_per_item for r in runs]):>13.2f} "
                f"{np.mean([r.seconds for r in runs]):>6.1f}",
                flush=True,
            )
        accuracy, per_item = offline_reference(crowd, keys)
        print(
            f"{name:<10} {'all answers, Dawid-Skene (offline)':<34} {accuracy:>11.3f} "
            f"{'':>10} {accuracy:>8.3f} {per_item:>13.2f}"
        )


if __name__ == "__main__":
    main()

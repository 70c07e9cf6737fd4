"""HITL cost: the share of items people must touch for a fully labelled pool at the target.

Each run is the real loop (``labelloop.simulation.run.run_simulation``: store, holdout, margin
sampling, retraining, certified auto-accept) with a perfect simulated annotator. Along the same
run, after every retrain, three other rules are asked what they would auto-accept:

* ``naive``: the lowest threshold whose auto-accepted *holdout* items have a one-sided
  Clopper-Pearson error bound <= 1 - target;
* ``union``: the lowest threshold whose bound on the *whole dataset's* error (holdout errors above
  the threshold, Clopper-Pearson with a union bound over the thresholds tried) fits the target;
* ``oracle``: the largest top-confidence set whose true errors fit the budget — chosen with the
  true labels, so not deployable: the ceiling no honest rule can pass.

The baselines and the oracle get their best checkpoint (flattering them). ``met`` counts runs whose
finished pool really reached the target accuracy against the truth.

    python benchmarks/hitl_cost.py [--datasets digits,banking77,sst2] [--seeds 5] [--quick]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, select

from labelloop.config import ProjectConfig
from labelloop.loop.project import Project
from labelloop.routing.bounds import clopper_pearson_upper
from labelloop.simulation.annotators import SimulatedAnnotator
from labelloop.simulation.run import LabelledData, SimulationResult, digits_data, run_simulation
from labelloop.store import tables as t

TARGET = 0.99
CONFIDENCE = 0.95
N_THRESHOLDS = 50


@dataclass
class Checkpoints:
    """Best share (and whether it met the target) of each comparison rule over a run."""

    truth: dict[str, str]
    n_items: int
    best: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def __call__(self, project: Project, result: SimulationResult) -> None:
        items = _snapshot(project)
        if items is None:
            return
        pending, conf, correct, hold_conf, hold_correct = items
        done = self.n_items - len(pending)  # already labelled by people
        allowed = math.floor((1 - TARGET) * self.n_items + 1e-9)
        order = np.argsort(-conf)
        errors = np.cumsum(~correct[order])
        fits = np.nonzero(errors <= allowed)[0]
        oracle_auto = int(fits[-1]) + 1 if len(fits) else 0
        self._offer("oracle", done + len(pending) - oracle_auto, True)
        for rule in ("naive", "union"):
            threshold = _rule_threshold(rule, hold_conf, hold_correct)
            auto = conf >= threshold
            met = int((~correct[auto]).sum()) <= allowed
            self._offer(rule, done + len(pending) - int(auto.sum()), met)

    def _offer(self, rule: str, humans: int, met: bool) -> None:
        share = humans / self.n_items
        if rule not in self.best or share < self.best[rule][0]:
            self.best[rule] = (share, met)


def _rule_threshold(rule: str, conf: np.ndarray, correct: np.ndarray) -> float:
    """The lowest confidence threshold the rule accepts (inf: none)."""
    alpha = 1 - CONFIDENCE
    if len(conf) == 0:
        return math.inf
    grid = np.unique(np.quantile(conf, np.linspace(0, 1, N_THRESHOLDS)))
    above = conf[None, :] >= grid[:, None]
    wrong = (above & ~correct[None, :]).sum(axis=1)
    if rule == "naive":
        bound = clopper_pearson_upper(wrong, np.maximum(above.sum(axis=1), 1), alpha)
        ok = (bound <= 1 - TARGET) & (above.sum(axis=1) > 0)
    else:
        bound = clopper_pearson_upper(wrong, len(conf), alpha / len(grid))
        ok = bound <= 1 - TARGET
    return float(grid[ok].min()) if ok.any() else math.inf


def _snapshot(project: Project):  # type: ignore[no-untyped-def]
    """Current model's confidence and correctness on pending items and on the holdout."""
    current = project.current_model()
    if current is None:
        return None
    i, p, mv, fl = t.items, t.predictions, t.model_versions, t.final_labels
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(i.c.key, i.c.status, i.c.is_holdout, p.c.label, p.c.confidence, fl.c.label)
            .join(p, p.c.item_id == i.c.id)
            .join(
                mv,
                and_(
                    mv.c.id == p.c.model_version_id,
                    mv.c.version == current.version,
                    mv.c.project_id == project.id,
                ),
            )
            .outerjoin(fl, fl.c.item_id == i.c.id)
            .where(i.c.project_id == project.id)
        ).all()
    truth = project_truth[project.name]
    pending = [r for r in rows if r.status == "new"]
    holdout = [r for r in rows if r.is_holdout and r.status == "labelled"]
    conf = np.array([r[4] for r in pending])
    correct = np.array([r[3] == truth[r.key] for r in pending], dtype=bool)
    hold_conf = np.array([r[4] for r in holdout])
    hold_correct = np.array([r[3] == r[5] for r in holdout], dtype=bool)
    return pending, conf, correct, hold_conf, hold_correct


project_truth: dict[str, dict[str, str]] = {}


def _text_data(
    name: str, texts: list[str], labels: list[str], names: tuple[str, ...], batch: int, every: int
) -> LabelledData:
    config = ProjectConfig(
        name=name,
        labels=names,
        data="text",
        model={"features": "embeddings"},
        query={"strategy": "margin", "batch_size": batch},
        retrain={"every": every},
        routing={"target_accuracy": TARGET, "confidence": CONFIDENCE},
    )
    records = [{"id": n, "text": text} for n, text in enumerate(texts)]
    return LabelledData(records, labels, config)


def load(name: str, quick: bool) -> LabelledData:
    """A labelled dataset as the loop sees it (text sets: embeddings primed from the cache)."""
    from benchmarks import datasets
    from labelloop.learn.embeddings import remember

    if name == "digits":
        return digits_data(target_accuracy=TARGET, batch_size=20, retrain_every=60)
    if name == "banking77":
        folder = datasets.data_dir() / "banking77"
        texts, labels = datasets.read_banking(folder / "train.csv")
        names = tuple(sorted(set(labels)))
        key = "banking77-train"
    else:
        folder = datasets.data_dir() / "sst2_glue"
        all_texts, all_labels = datasets.read_sst2(folder / "train.tsv")
        keep = np.sort(np.random.default_rng(0).choice(len(all_texts), 20000, replace=False))
        texts = [all_texts[k] for k in keep]
        labels = ["positive" if all_labels[k] else "negative" for k in keep]
        names = ("negative", "positive")
        key = "sst2-train"
    remember(texts, datasets.embed(texts, key))
    if quick:
        texts, labels = texts[:2000], labels[:2000]
    return _text_data(name, texts, labels, names, batch=50, every=200)


def run(datasets_: list[str], seeds: int, quick: bool) -> list[dict]:
    """One row per dataset: mean shares and how often each rule met the target."""
    rows = []
    for name in datasets_:
        data = load(name, quick)
        truth = {f"id:{r['id']}": y for r, y in zip(data.records, data.truth, strict=True)}
        project_truth[data.config.name] = truth
        per_seed = []
        for seed in range(seeds):
            start = time.perf_counter()
            checkpoints = Checkpoints(truth, len(truth))
            result = run_simulation(
                data,
                SimulatedAnnotator("oracle-annotator", data.config.labels),
                random_state=seed,
                on_train=checkpoints,
            )
            per_seed.append((result, checkpoints.best, time.perf_counter() - start))
            print(
                f"  {name} seed {seed}: ours {result.human_share:.3f} "
                f"(acc {result.final_label_accuracy:.4f}), "
                + ", ".join(
                    f"{k} {v[0]:.3f}{'' if v[1] else ' MISSED'}"
                    for k, v in checkpoints.best.items()
                )
                + f"; rounds {''.join(r['status'][0].upper() for r in result.rounds) or '-'}"
                + f" [{per_seed[-1][2]:.0f}s]",
                flush=True,
            )
        rows.append(_summarise(name, len(truth), per_seed))
    return rows


def _summarise(name: str, n: int, per_seed: list) -> dict:  # type: ignore[type-arg]
    def rule(key: str) -> tuple[float, int]:
        values = [best[key] for _, best, _ in per_seed if key in best]
        return (
            float(np.mean([v[0] for v in values])) if values else 1.0,
            sum(v[1] for v in values) + (len(per_seed) - len(values)),
        )

    ours = [r for r, _, _ in per_seed]
    return {
        "dataset": name,
        "items": n,
        "seeds": len(per_seed),
        "ours": float(np.mean([r.human_share for r in ours])),
        "ours_met": sum(r.final_label_accuracy >= TARGET for r in ours),
        "ours_acc": float(np.mean([r.final_label_accuracy for r in ours])),
        "naive": rule("naive"),
        "union": rule("union"),
        "oracle": rule("oracle")[0],
        "seconds": float(np.mean([s for _, _, s in per_seed])),
    }


def print_table(rows: list[dict]) -> None:
    """Side by side: human share (and runs meeting the target) per rule."""
    print(
        f"\nHITL cost at target {TARGET:.0%} accuracy, {CONFIDENCE:.0%} confidence "
        "(share of items people label; met = runs whose finished pool reached the target)"
    )
    head = (
        f"{'dataset':<10}{'items':>7}{'seeds':>6} | {'ours':>7}{'met':>5}{'accuracy':>9} | "
        f"{'naive CP':>9}{'met':>5} | {'union':>7}{'met':>5} | {'oracle':>7} | {'s/run':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['dataset']:<10}{r['items']:>7}{r['seeds']:>6} | {r['ours']:>7.3f}"
            f"{r['ours_met']:>3}/{r['seeds']}{r['ours_acc']:>9.4f} | {r['naive'][0]:>9.3f}"
            f"{r['naive'][1]:>3}/{r['seeds']} | {r['union'][0]:>7.3f}{r['union'][1]:>3}/"
            f"{r['seeds']} | {r['oracle']:>7.3f} | {r['seconds']:>6.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,banking77,sst2")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2,000-item text pools, 1 seed")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    print_table(run(args.datasets.split(","), seeds, args.quick))


if __name__ == "__main__":
    main()

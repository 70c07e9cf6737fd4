"""Run every benchmark, one table each: ``python benchmarks/run.py [--quick]``.

* ``selection_speed``  — choosing 100 items from 1,000,000 × 10 probabilities / 100,000 × 384
  embeddings, beside naive implementations;
* ``label_efficiency`` — labels to reach 99 % of full-data accuracy per strategy vs random (and
  small-text / scikit-activeml where installed), on digits, banking77 and sst2;
* ``hitl_cost``        — share of items people must touch for a pool certified at the target
  accuracy, beside the naive and union-bound rules and the true-label oracle;
* ``task_latency``     — next-task + submit latency with concurrent annotators through the HTTP
  server, SQLite and PostgreSQL side by side;
* ``login_burst``      — a burst of bad logins for one account while others work: password
  hashes computed beside the limit, server peak RSS, the others' p50/p99 beside a quiet phase;
* ``import_speed``     — importing 1,000,000 text items (JSONL, CSV) on SQLite and PostgreSQL:
  seconds, items/s and peak RSS, beside plain executemany and one INSERT per row;
* ``agreement``        — Krippendorff's alpha on CIFAR-10H and a 200,000-item synthetic table beside
  the ``krippendorff`` package, Cohen's kappa (single and pairwise) beside scikit-learn;
* ``label_errors``     — human-confirmed label errors among the items flagged on 20news and MNIST,
  ``find_label_errors`` (cleanlab) beside argmax != given and the issue's reference;
* ``truth_inference``  — accuracy and seconds per fit of majority vote, Wawa, one-coin and
  Dawid-Skene on seven real crowd sets, beside crowd-kit and the published figures;
* ``crowd_loop``       — the loop's human side on real crowd answers: final label accuracy vs
  answers per item, fixed overlap beside dynamic overlap (majority, Dawid-Skene);
* ``scoring_speed``    — pool scoring rate (items/s) with and without Ray: 200,000 phrases with
  TF-IDF + LR and 20,000 with MiniLM + LR, in-process beside a local Ray instance.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    "selection_speed",
    "label_efficiency",
    "hitl_cost",
    "task_latency",
    "login_burst",
    "label_studio_load",
    "import_speed",
    "agreement",
    "label_errors",
    "truth_inference",
    "crowd_loop",
    "scoring_speed",
)


def main() -> None:
    here = Path(__file__).resolve().parent
    extra = sys.argv[1:]
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        result = subprocess.run(
            [sys.executable, str(here / f"{name}.py"), *extra],
            cwd=here.parent,
            env=None,
            check=False,
        )
        if result.returncode:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

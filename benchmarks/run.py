"""Run every benchmark, one table each: ``python benchmarks/run.py [--quick]``.

* ``selection_speed``  — choosing 100 items from 1,000,000 × 10 probabilities / 100,000 × 384
  embeddings, beside naive implementations;
* ``label_efficiency`` — labels to reach 99 % of full-data accuracy per strategy vs random (and
  small-text / scikit-activeml where installed), on digits, banking77 and sst2;
* ``hitl_cost``        — share of items people must touch for a pool certified at the target
  accuracy, beside the naive and union-bound rules and the true-label oracle;
* ``task_latency``     — next-task + submit latency with concurrent annotators through the HTTP
  server, SQLite and PostgreSQL side by side.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("selection_speed", "label_efficiency", "hitl_cost", "task_latency")


def main() -> None:
    here = Path(__file__).resolve().parent
    extra = sys.argv[1:]
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        result = subprocess.run([sys.executable, str(here / f"{name}.py"), *extra],
                                cwd=here.parent, env=None, check=False)
        if result.returncode:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

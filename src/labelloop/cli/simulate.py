"""``labelloop simulate``: the loop end to end with simulated annotators, beside random sampling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def simulate(
    dataset: Annotated[
        str,
        typer.Option(
            help="'digits' (bundled) or a labelled JSONL/CSV/Parquet "
            "file (needs --config with label_field)."
        ),
    ] = "digits",
    config: Annotated[Path | None, typer.Option(help="Project config for a file dataset.")] = None,
    strategy: Annotated[
        str, typer.Option(help="Query strategy (see `labelloop strategies`).")
    ] = "margin",
    accuracy: Annotated[
        list[float] | None,
        typer.Option(
            "--annotator-accuracy", help="Accuracy of a simulated annotator; repeat for a team."
        ),
    ] = None,
    crowd: Annotated[
        Path | None,
        typer.Option(
            help="Replay real answers from a long CSV/TSV file of item, annotator, label."
        ),
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(help="Target accuracy of the finished dataset (default: the config's)."),
    ] = None,
    max_labels: Annotated[int | None, typer.Option(help="Stop after this many labels.")] = None,
    baseline: Annotated[bool, typer.Option(help="Also run random sampling beside it.")] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the loop on a labelled dataset with simulated people; print the learning curve."""
    from labelloop.config import load_config
    from labelloop.simulation.annotators import CrowdReplay, SimulatedAnnotator, Team
    from labelloop.simulation.run import digits_data, file_data, run_simulation

    if dataset == "digits":
        data = digits_data()
    else:
        if config is None:
            raise typer.BadParameter("a file dataset needs --config", param_hint="--config")
        data = file_data(Path(dataset), load_config(config))
    if target is not None:
        routing = data.config.routing.model_copy(update={"target_accuracy": target})
        data = type(data)(
            data.records, data.truth, data.config.model_copy(update={"routing": routing})
        )
    labels = data.config.labels
    annotator = (
        CrowdReplay.from_file(crowd)
        if crowd is not None
        else Team(
            [SimulatedAnnotator(f"sim-{n}", labels, a) for n, a in enumerate(accuracy or [1.0])]
        )
    )

    runs = [strategy] + (["random"] if baseline and strategy != "random" else [])
    results = []
    for name in runs:
        if not as_json:
            console.print(f"simulating [bold]{name}[/] on {len(data.records):,} items …")
        results.append(
            run_simulation(data, annotator, strategy=name, max_labels=max_labels, random_state=seed)
        )
    if as_json:
        main = results[0].to_dict()
        if len(results) > 1:
            main["baseline"] = results[1].to_dict()
        print(json.dumps(main))
        return
    _print_curves(results)
    summary = Table("strategy", "final accuracy", "human share", "labels", "auto-accepted")
    for r in results:
        summary.add_row(
            r.strategy,
            f"{r.final_label_accuracy:.4f}",
            f"{r.human_share:.1%}",
            f"{r.labels_used:,}",
            f"{r.auto_accepted:,}",
        )
    console.print(summary)
    for r in results:
        for x in r.rounds:
            console.print(
                f"{r.strategy}: round {x['attempt']} {x['status']}: "
                f"{x['sample_errors']} errors in {x['sample_size']} audited of "
                f"{x['candidates']:,} candidates; at most {x['error_bound']} errors "
                f"left, {x['allowed_errors']} allowed",
                highlight=False,
            )


def _print_curves(results: list) -> None:  # type: ignore[type-arg]
    table = Table(title="learning curve: holdout accuracy after n human labels")
    table.add_column("labels", justify="right")
    for r in results:
        table.add_column(r.strategy, justify="right")
    points = sorted({n for r in results for n, _ in r.curve})
    lookup = [dict(r.curve) for r in results]
    for n in points:
        table.add_row(str(n), *(f"{c[n]:.4f}" if n in c else "" for c in lookup))
    console.print(table)

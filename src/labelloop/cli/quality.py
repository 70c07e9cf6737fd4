"""``labelloop quality``: agreement among annotators and where the guidelines are unclear."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def quality(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name.")],
    slice_field: Annotated[
        str | None,
        typer.Option("--slice", help="A key of the items' data to report agreement by."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Confused label pairs and cells to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Agreement (overall, per label, per pair, per slice) and the most confused labels."""
    from labelloop.cli.context import open_project

    opened = open_project(ctx, project)
    agreement = opened.agreement_report(slice_field=slice_field)
    guidelines = opened.guideline_report(top=top)
    if as_json:
        print(json.dumps({"agreement": agreement, "guidelines": guidelines}, indent=2))
        return
    _print_agreement(agreement)
    _print_guidelines(guidelines)


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _print_agreement(report: dict[str, Any]) -> None:
    if not report["measurable"]:
        console.print(f"agreement: {report['reason']}", highlight=False)
        return
    alpha = report["alpha"]
    console.print(
        f"[bold]Krippendorff's alpha[/] {_f(alpha['estimate'])} "
        f"({alpha['confidence']:.0%} interval {_f(alpha['low'])} to {_f(alpha['high'])}) over "
        f"{report['n_items']:,} items with two or more answers from "
        f"{report['n_annotators']} annotators; Fleiss' kappa {_f(report['fleiss_kappa'])}",
        highlight=False,
    )
    labels = Table("label", "alpha", "answers", title="Agreement per label")
    for row in report["per_label"]:
        labels.add_row(row["label"], _f(row["alpha"]), str(row["answers"]))
    console.print(labels)
    if report["pairs"]:
        pairs = Table("annotator", "annotator", "Cohen's kappa", "shared items", title="Pairs")
        for p in report["pairs"]:
            pairs.add_row(p["annotator_a"], p["annotator_b"], _f(p["kappa"]), str(p["n_items"]))
        console.print(pairs)
    if report["slices"] is not None:
        slices = report["slices"]
        table = Table(slices["field"], "items", "alpha", "interval", title="Agreement per slice")
        for g in slices["groups"]:
            a = g["alpha"]
            interval = f"{_f(a['low'])} to {_f(a['high'])}" if a else g["reason"]
            table.add_row(g["value"], str(g["n_items"]), _f(a and a["estimate"]), interval)
        console.print(table)


def _print_guidelines(report: dict[str, Any]) -> None:
    people = report["annotators"]
    if people["confused"]:
        table = Table("labels", "split pairs", "rate", "examples", title="Most confused labels")
        for pair in people["confused"]:
            examples = ", ".join(str(e["key"]) for e in pair["examples"])
            table.add_row(
                " / ".join(pair["labels"]), str(pair["count"]), _f(pair["rate"]), examples
            )
        console.print(table)
    elif people["measurable"]:
        console.print("annotators never split on a label pair")
    model = report["model"]
    if not model["available"]:
        console.print(f"human vs model: {model['reason']}", highlight=False)
        return
    console.print(
        f"[bold]human vs model v{model['model_version']}[/]: agree on "
        f"{_f(model['agreement'])} of {model['n_items']:,} human labels",
        highlight=False,
    )
    if model["cells"]:
        table = Table("human", "model", "items", "rate", "examples", title="Human–model splits")
        for cell in model["cells"]:
            examples = ", ".join(str(e["key"]) for e in cell["examples"])
            table.add_row(
                cell["human"], cell["model"], str(cell["count"]), _f(cell["rate"]), examples
            )
        console.print(table)

"""The learning curve as an inline SVG: pure geometry, no plotting library, no JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """What the template draws: the view box, the polyline, points, and axis ticks."""

    width: int
    height: int
    polyline: str
    points: tuple[tuple[float, float, str], ...]  # x, y, tooltip
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    left: int
    bottom: int


def learning_curve(
    points: Sequence[tuple[int, float]], *, width: int = 480, height: int = 240
) -> Chart | None:
    """Labels (x) against holdout accuracy (y); ``None`` when there is nothing to draw."""
    if not points:
        return None
    left, right, top, bottom = 48, 16, 12, height - 32
    xs = [n for n, _ in points]
    x_max = max(max(xs), 1)
    y_min = min(0.5, min(a for _, a in points))
    y_min = max(0.0, round(y_min - 0.05, 1))

    def sx(n: float) -> float:
        return round(left + (width - left - right) * n / x_max, 1)

    def sy(a: float) -> float:
        return round(bottom - (bottom - top) * (a - y_min) / (1.0 - y_min), 1)

    drawn = tuple((sx(n), sy(a), f"{n} labels: accuracy {a:.3f}") for n, a in sorted(points))
    y_steps = 5
    y_ticks = tuple(
        (sy(y_min + (1.0 - y_min) * k / y_steps), f"{y_min + (1.0 - y_min) * k / y_steps:.2f}")
        for k in range(y_steps + 1)
    )
    x_ticks = tuple((sx(x_max * k / 4), str(round(x_max * k / 4))) for k in range(5))
    return Chart(
        width=width,
        height=height,
        polyline=" ".join(f"{x},{y}" for x, y, _ in drawn),
        points=drawn,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        left=left,
        bottom=bottom,
    )

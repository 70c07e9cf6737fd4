"""Parameter validation with one message pattern for every estimator."""

from __future__ import annotations

import numbers
from typing import Any


def check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def check_fraction(owner: str, name: str, value: Any, *, closed: bool = False) -> float:
    """Return ``value`` if it is a float in (0, 1) (or [0, 1] when ``closed``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float in {interval}. "
            f"Got {value!r} instead."
        )
    return float(value)


def check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {', '.join(choices)}. "
            f"Got {value!r} instead."
        )
    return str(value)

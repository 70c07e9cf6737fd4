"""The parameter half of scikit-learn's estimator contract, without importing scikit-learn.

``sklearn.base`` pulls in SciPy's statistics and pandas (over a second at start-up), which a
command such as ``labelloop aggregate`` would pay for a fit of milliseconds. :class:`Params` gives
``get_params``/``set_params`` and a repr from the ``__init__`` signature, which is all that
``sklearn.base.clone`` and grid searches ask of an estimator.
"""

from __future__ import annotations

import inspect
from typing import Any


class Params:
    """Parameters are the keyword arguments of ``__init__``, stored under their own names."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters by name (``deep`` is accepted for scikit-learn; nothing is nested)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Params:
        """Set parameters by name; an unknown name raises ``ValueError``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}. "
                    f"Valid parameters are: {', '.join(valid)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not (defaults[name].default is value or _same(defaults[name].default, value))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
        return False

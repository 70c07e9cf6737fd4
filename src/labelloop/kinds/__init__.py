"""Task kinds: one folder per kind of answer, each a :class:`TaskKind`.

* ``single_label`` — :class:`SingleLabel`, one label per item;
* ``multi_label``  — :class:`MultiLabel`, any subset of the labels per item.

:data:`KINDS` registers them by name; a third-party kind is found through the ``labelloop.kinds``
entry-point group. :func:`kind_for` gives the kind of a project (anything with ``kind`` and
``labels``), built once per label set.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from labelloop.kinds.base import TaskKind, Widget
from labelloop.kinds.multi_label import MultiLabel
from labelloop.kinds.single_label import SingleLabel
from labelloop.registry import Registry

KINDS: Registry[type[TaskKind]] = Registry("task kind", entry_point_group="labelloop.kinds")
KINDS.add(SingleLabel.name, SingleLabel)
KINDS.add(MultiLabel.name, MultiLabel)


def make_kind(name: str, labels: tuple[str, ...]) -> TaskKind:
    """The kind registered as ``name``, for ``labels``."""
    return _built(name, tuple(labels))


@lru_cache(maxsize=256)
def _built(name: str, labels: tuple[str, ...]) -> TaskKind:
    return KINDS.get_or_raise(name)(labels)


def kind_for(config: Any) -> TaskKind:
    """The task kind of a project configuration."""
    return make_kind(config.kind, config.labels)


__all__ = ["KINDS", "MultiLabel", "SingleLabel", "TaskKind", "Widget", "kind_for", "make_kind"]

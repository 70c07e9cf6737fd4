"""One registry of named things: query strategies, aggregators, task kinds.

A :class:`Registry` maps names to classes (or factories). Built-in entries are added in code;
third-party ones are found through a Python entry-point group (``labelloop.kinds`` …) the first
time a name is looked up that the code does not know, so a plugin needs no import by the user.
A plugin that fails to load is left out (and logged): it breaks neither the other plugins nor
the lookups of other names, and asking for it says why it is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one sort (``what`` names the sort in messages, e.g. "query strategy")."""

    def __init__(self, what: str, *, entry_point_group: str | None = None) -> None:
        self.what = what
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T] = {}
        self._broken: dict[str, str] = {}  # plugin name -> why it did not load
        self._plugins_loaded = entry_point_group is None

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` as ``name`` (a name is registered once)."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"a {self.what} called {name!r} is registered already")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Register the decorated class or function as ``name``."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self.entry_point_group or ""):
            if point.name in self._entries:
                continue
            try:
                self._entries[point.name] = point.load()
            except Exception as exc:  # a broken plugin must not take the others down with it
                self._broken[point.name] = f"{type(exc).__name__}: {exc}"
                log.warning("%s plugin %r not loaded: %s", self.what, point.name, exc)

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            self._load_plugins()
        if name not in self._entries:
            raise KeyError(self.unknown(name))
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._load_plugins()
        return iter(self._entries)

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)

    def unknown(self, name: str) -> str:
        """The message for a name nobody registered (or whose plugin failed to load)."""
        if name in self._broken:
            return (
                f"The {self.what} {name!r} is installed but failed to load: {self._broken[name]}."
            )
        return f"Unknown {self.what} {name!r}. Known: {', '.join(sorted(self))}."

    def get_or_raise(self, name: str) -> T:
        """The entry ``name``; a ValueError naming the known ones if there is none."""
        if name not in self:
            raise ValueError(self.unknown(name))
        return self._entries[name]

"""Global options: declared once, on the root callback, and accepted before or after any command.

``labelloop --data-dir D status NAME`` and ``labelloop status NAME --data-dir D`` are the same
command. :class:`SharedOptionsGroup` copies the options of its callback onto every command and
group below it; a value given there is merged over the ones given before the command, and the
group's callback runs again, on that command's context, with the merged values. So a command
declares nothing: it takes ``ctx: typer.Context`` and reads what the callback left in ``ctx.obj``
(the :class:`~labelloop.settings.Settings`); a new global option is one more parameter of the
root callback.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from typer import Context
from typer.core import TyperGroup

PANEL = "Global options"
_GIVEN = "labelloop.global_options"  # ctx.meta key: values given after a command name


class SharedOptionsGroup(TyperGroup):
    """A group whose callback's options are also accepted by every command below it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        shared = [p for p in self.params if p.expose_value and p.name != "help"]
        if not shared:
            return
        for command in _below(self):
            have = {p.name for p in command.params}
            command.params.extend(_shared_copy(p) for p in shared if p.name not in have)


def _below(group: TyperGroup) -> Iterator[Any]:
    for command in group.commands.values():
        yield command
        if isinstance(command, TyperGroup):
            yield from _below(command)


def _shared_copy(param: Any) -> Any:
    """``param`` as accepted after a command name: it feeds :func:`_given_later`, not the
    command's own arguments, and is listed under its own help panel."""
    twin = copy.copy(param)
    twin.expose_value = False
    twin.callback = _given_later
    twin.rich_help_panel = PANEL
    return twin


def _given_later(ctx: Context, param: Any, value: Any) -> Any:
    """Merge a value given after a command name over those of the group that declares the
    option, and rerun that group's callback on this command's context."""
    source = ctx.get_parameter_source(param.name)
    if ctx.resilient_parsing or source is None or source.name != "COMMANDLINE":
        return value  # a default: the value given before the command (or none) stands
    owner = ctx.parent
    while owner is not None and param.name not in owner.params:
        owner = owner.parent
    if owner is None or owner.command.callback is None:
        return value
    given = ctx.meta.setdefault(_GIVEN, {})  # meta is shared by the nested contexts
    given[param.name] = value
    merged = {**owner.params, **{k: v for k, v in given.items() if k in owner.params}}
    ctx.invoke(owner.command.callback, **merged)
    return value

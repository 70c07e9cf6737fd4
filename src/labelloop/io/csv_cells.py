"""CSV cells a spreadsheet shows rather than runs, and back.

A spreadsheet may run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (``=HYPERLINK(...)`` from an item's text). :func:`guard` puts a ``'`` in front
of such text — and of text that already starts with ``'`` before one of those, so that
:func:`unguard` can take exactly one off when labelloop reads the file again. Numbers, and text
that is just a number such as ``-3.5``, are left as they are: they cannot be formulas.
"""

from __future__ import annotations

import re
from typing import Any

GUARD_NOTE = (
    "CSV text cells (and column names) starting with = + - @ tab or carriage return, possibly "
    "after ' marks, have one ' put in front so spreadsheets do not run them; labelloop removes "
    "it on import; numbers are left as they are"
)
_RUNNABLE = re.compile(r"'*[=+\-@\t\r]")
_GUARDED = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def guard(cell: Any) -> Any:
    """``cell``, with a ``'`` in front if it is text a spreadsheet could run."""
    if isinstance(cell, str) and _RUNNABLE.match(cell) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def unguard(text: str) -> str:
    """The text :func:`guard` was given."""
    return text[1:] if _GUARDED.match(text) else text

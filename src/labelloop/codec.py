"""The one canonical codec of label values.

A stored label is JSON: a string (single-label) or a sorted list of strings (multi-label). Every
part of labelloop that needs a hashable form uses :func:`label_key` (canonical JSON text, so any
name round-trips) and :func:`key_label` to undo it; people read :func:`display_name`
(:func:`key_name` for a key). Files and the CLI write a multi-label set as ``a|b``
(:func:`join_labels`, :func:`split_labels`), so the multi-label kind refuses names holding ``|``.
:func:`label_name_problem` (and a kind's own rules) is checked when a project's configuration is
loaded.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

SEPARATOR = "|"
MAX_LABEL_LENGTH = 200


def label_key(label: Any) -> str:
    """A hashable key of a stored label: its canonical JSON text."""
    return json.dumps(label, ensure_ascii=False, separators=(",", ":"))


def key_label(key: str) -> Any:
    """The label a :func:`label_key` came from."""
    return json.loads(key)


def display_name(label: Any) -> str:
    """How a label reads to a person: ``pos``, ``a|b``, ``(none)`` for an empty set."""
    if isinstance(label, list):
        return join_labels(label) or "(none)"
    return str(label)


def key_name(key: str) -> str:
    """How the label behind a :func:`label_key` reads to a person."""
    return display_name(key_label(key))


def join_labels(labels: list[str]) -> str:
    """A multi-label set in its text form, ``a|b``."""
    return SEPARATOR.join(labels)


def split_labels(text: str) -> list[str]:
    """The names in a text form ``a|b`` (stripped, empty parts dropped)."""
    return [part.strip() for part in text.split(SEPARATOR) if part.strip()]


def label_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a label name (it would not survive files, keys or pages, or would
    look like another name), or None."""
    if not name or name != name.strip():
        return "must be non-empty, without leading or trailing spaces"
    if len(name) > MAX_LABEL_LENGTH:
        return f"must be at most {MAX_LABEL_LENGTH} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        return "must not hold control characters or lone surrogates"
    if any(unicodedata.category(ch) == "Cf" for ch in name):
        return "must not hold invisible characters (zero-width spaces, direction marks)"
    if any(ch.isspace() and ch != " " for ch in name) or "  " in name:
        return "must separate words with single plain spaces"
    if unicodedata.normalize("NFC", name) != name:
        return "must be in Unicode's composed form (NFC), as keyboards type it"
    return None


def reads_as(name: str) -> str:
    """What ``name`` looks like on a page: two names that read the same cannot both be labels
    (compatibility forms such as fullwidth letters fold to their plain form)."""
    return unicodedata.normalize("NFKC", name)


def typed(answer: str) -> str:
    """An answer's text in the composed form (NFC) that label names are checked to have, so a
    name typed on a keyboard that decomposes accents (NFD) still matches."""
    return unicodedata.normalize("NFC", answer)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about hostile input."""
    return cut(repr(value), limit)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label_text(value: object) -> str | None:
    """A label name in a file cell: a string (stripped) or an integer; None for anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def json_type_name(value: object) -> str:
    """What sort of JSON value ``value`` is, for messages: "a string", "a list", "null" …"""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    names = {str: "a string", list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")

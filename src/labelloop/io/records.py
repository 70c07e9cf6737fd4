"""Turn one raw record into an item checked against the project's schema.

:func:`parse_record` reports every problem of a record at once, each a
:class:`~labelloop.errors.Reject` naming the field. An item's ``key`` is ``"id:<id>"`` when the
record has an id, else ``"sha256:<hex>"`` of the canonical JSON of its data, so importing the
same items twice finds the same keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from labelloop.codec import json_type_name
from labelloop.config import ProjectConfig
from labelloop.errors import AnswerError, Reject
from labelloop.kinds import TaskKind, kind_for
from labelloop.text import text_problem

MAX_ID_LENGTH = 200

Label = str | list[str] | None
_Problem = tuple[str | None, str]

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One item for the store: its key, its data (every field but the label) and its label."""

    key: str
    data: dict[str, Any]
    label: Label = None
    # 64 bits of data and label, comparable within this process only (duplicate detection).
    fingerprint: int = field(default=0, compare=False)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII only, no NaN: equal data always gives equal text."""
    return _CANONICAL.encode(value)


def parse_record(
    raw: dict[str, Any],
    *,
    config: ProjectConfig,
    file: str,
    line: int,
    from_csv: bool = False,
) -> ItemRecord | list[Reject]:
    """Check ``raw`` against ``config``; return the item, or a reject for every problem found.

    A null id (or an empty id cell in CSV) means no id. ``from_csv`` says the values are CSV
    strings: empty cells of other fields become ``None``, and numbers written as plain decimals
    (``1200``, ``-3.5``, not ``007``) become numbers, so that routing rules such as
    ``amount > 1000`` work. Multi-label values may be lists or ``a|b``.
    """
    problems: list[_Problem] = []
    data = dict(raw)
    ident = data.get(config.id_field) if config.id_field else None
    if config.id_field and (ident is None or (from_csv and ident == "")):
        ident = None
        data.pop(config.id_field, None)
    elif ident is not None and (reason := _id_problem(ident)):
        problems.append((config.id_field, reason))
    if config.data == "text":
        if reason := _text_problem(data.get(config.text_field)):
            problems.append((config.text_field, reason))
    else:
        for name in config.feature_fields:
            number, reason = _to_number(data.get(name))
            if reason:
                problems.append((name, reason))
            else:
                data[name] = number
    label: Label = None
    if config.label_field:
        label, reason = _parse_label(data.pop(config.label_field, None), kind_for(config))
        if reason:
            problems.append((config.label_field, reason))
    if from_csv:
        keep = {config.text_field, config.id_field, *config.feature_fields}
        _infer_numbers(data, keep)
    try:
        text = canonical_json(data)
    except (TypeError, ValueError) as exc:
        text = ""
        reported = {name for name, _ in problems}
        more = [p for p in _unstorable(data) if p[0] not in reported]
        problems += more if more or problems else [(None, f"cannot be stored as JSON ({exc})")]
    if not problems:
        problems += [
            (name, reason) for name, value in data.items() if (reason := data_problem(value))
        ]
    if problems:
        return [Reject(file, line, name, reason) for name, reason in problems]
    key = f"id:{ident}" if ident is not None else "sha256:" + _sha256(text)
    fingerprint = hash(text + "\0" + canonical_json(label)) & 0xFFFF_FFFF_FFFF_FFFF
    return ItemRecord(key, data, label, fingerprint)


MAX_DEPTH = 32  # nesting of lists and objects in an item's data


def data_problem(value: Any) -> str | None:
    """Why ``value`` (an item's data) cannot be stored and sent back, or None: lists and
    objects nested deeper than :data:`MAX_DEPTH`, or text no store can keep (NUL, or a lone
    surrogate such as ``"\\ud83d"``: :func:`~labelloop.text.text_problem`)."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, str):
            if reason := text_problem(node):
                return f"{where}: {reason}" if where else reason
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_DEPTH:
            return f"nests lists or objects deeper than {MAX_DEPTH} levels"
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in pairs:
            if isinstance(key, str) and (reason := text_problem(key)):
                return f"{where or 'value'}: a key {reason}"
            stack.append((child, depth + 1, f"{where}.{key}" if where else str(key)))
    return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _id_problem(ident: object) -> str | None:
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        return f"must be a string or an integer, got {json_type_name(ident)}"
    if isinstance(ident, str) and not ident.strip():
        return "must not be empty"
    if len(str(ident)) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, got {len(str(ident))}"
    return None


def _text_problem(value: object) -> str | None:
    if value is None:
        return "missing: a text project needs a non-empty string here"
    if not isinstance(value, str):
        return f"must be a non-empty string, got {json_type_name(value)}"
    if not value.strip():
        return "must be a non-empty string, got an empty one"
    return None


def _to_number(value: object) -> tuple[float | None, str | None]:
    if value is None or value == "":
        return None, "missing: a number is needed here"
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None, f"must be a finite number, got {value!r}"
    else:
        return None, f"must be a finite number, got {json_type_name(value)}"
    if not math.isfinite(number):
        return None, f"must be a finite number, got {value!r}"
    return number, None


def _parse_label(value: object, kind: TaskKind) -> tuple[Any, str | None]:
    """Return the answer in ``value``, or ``None`` when it holds none; or the problem."""
    try:
        return kind.read(value), None
    except AnswerError as exc:
        return None, str(exc)


def _infer_numbers(data: dict[str, Any], keep: set[str | None]) -> None:
    for name, value in data.items():
        if name in keep or not isinstance(value, str):
            continue
        if value == "":
            data[name] = None
        elif len(value) > 40:
            continue
        elif _INT.fullmatch(value):
            data[name] = int(value)
        elif _FLOAT.fullmatch(value) and math.isfinite(number := float(value)):
            data[name] = number


def _unstorable(data: dict[str, Any]) -> list[_Problem]:
    problems: list[_Problem] = []
    for name, value in data.items():
        try:
            canonical_json(value)
        except ValueError:
            problems.append((name, "holds NaN or infinity, which JSON cannot store"))
        except TypeError as exc:
            problems.append((name, f"cannot be stored as JSON ({exc})"))
    return problems

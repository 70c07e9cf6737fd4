"""Refuse text the store cannot keep, in every request, before a route sees it.

PostgreSQL cannot store U+0000 (NUL) in text, and no store can encode a lone surrogate such as
``"\\ud83d"``. Reaching the database, either fails with a 500. :func:`refuse_unstorable_text`, a
dependency of every route, answers 422 instead, naming where it was: ``path.name``,
``query.q``, ``body.username``, ``body.config.labels.1`` (the format of every validation error).
Uploaded files are checked by the import itself, record by record.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from labelloop.text import text_problem

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def find_bad_text(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The path of the first string (or key) in parsed JSON ``value`` that cannot be stored,
    and why; None if every one can. Iterative: deep nesting cannot exhaust the stack."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if problem := text_problem(node):
                return where, problem
        elif isinstance(node, dict):
            for key, child in node.items():
                if problem := text_problem(key):
                    return (*where, key), f"a key {problem}"
                stack.append((child, (*where, key)))
        elif isinstance(node, list):
            stack.extend((child, (*where, n)) for n, child in enumerate(node))
    return None


async def refuse_unstorable_text(request: Request) -> None:
    """422 if a path parameter, query parameter, form field or JSON body holds text that cannot
    be stored (see :func:`text_problem`)."""
    found = _in_url(request) or await _in_body(request)
    if found is not None:
        where, problem = found
        loc = tuple(_shown(part) if isinstance(part, str) else part for part in where)
        raise RequestValidationError([{"loc": loc, "msg": problem, "type": "value_error"}])


def _shown(name: str) -> str:
    """``name`` as the error message can show it: NUL and lone surrogates escaped."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _in_url(request: Request) -> tuple[tuple[str | int, ...], str] | None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            return ("path", name), problem
    for name, value in request.query_params.multi_items():
        if problem := text_problem(name) or text_problem(value):
            return ("query", name), problem
    return None


async def _in_body(request: Request) -> tuple[tuple[str | int, ...], str] | None:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORMS):
        form = await request.form()  # parsed once: the route's Form() fields reuse it
        for name, value in form.multi_items():
            if isinstance(value, str) and (problem := text_problem(name) or text_problem(value)):
                return ("body", name), problem
        return None
    if "json" not in content_type:
        return None
    body = await request.body()
    # Only an escape puts NUL or a surrogate into JSON text (raw NUL bytes mean UTF-16/32).
    if b"\\u" not in body and b"\x00" not in body:
        return None
    try:
        data = await request.json()
    except ValueError:
        return None  # the route's own parsing reports it
    found = find_bad_text(data)
    if found is None:
        return None
    where, problem = found
    return ("body", *where), problem

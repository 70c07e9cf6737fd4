"""Text every store can keep: no NUL characters (PostgreSQL refuses them), no lone surrogates
(no encoding can write them). Checked where text comes in: requests and imported items."""

from __future__ import annotations


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, worded to follow a field's name; or None."""
    if "\x00" in text:
        return "must not contain NUL (\\x00) characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None

"""Server logs on stderr: text lines or JSON lines, set up by the app factory (never on import).

A record's ``extra`` fields become keys of its JSON object (or ``key=value`` pairs in text), and
the id of the request being served is added to every record written while serving it::

    {"ts": "2026-11-24T17:03:04.123Z", "level": "INFO", "logger": "labelloop.request",
     "pid": 2174, "event": "request", "method": "GET", "path": "/api/v1/projects/{name}",
     "status": 200, "duration_ms": 3.1, "user": "alice", "request_id": "5f0c…"}
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from labelloop.settings import Settings

# The loggers whose records the server writes: its own and uvicorn's (startup, errors).
LOGGERS = ("labelloop", "uvicorn")
HANDLER_NAME = "labelloop"

request_id: ContextVar[str | None] = ContextVar("labelloop_request_id", default=None)

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``extra`` fields, plus the current request's id. Private attributes (a
    leading ``_``, such as the timestamp Ray's log record factory adds) are not fields."""
    fields = {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }
    rid = request_id.get()
    if rid is not None:
        fields.setdefault("request_id", rid)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, pid, event, the extra fields (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        if not extra:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {extra}{sep}{tail}"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (tests swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr


def configure_logging(settings: Settings) -> None:
    """Write the server's records to stderr in ``settings.log_format``, from
    ``settings.log_level`` up. Calling it again replaces the handler it installed."""
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(settings.log_level)

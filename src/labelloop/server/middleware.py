"""One ASGI middleware around every HTTP request: a request id, a log line and the metrics.

The id is the client's ``X-Request-ID`` when it is a plain token (letters, digits, ``._:-``, at
most 128), a new one otherwise; it is sent back in ``X-Request-ID`` and is on every log record
written while the request is served. Routes are named by their template
(``/api/v1/projects/{name}``), never the raw path, so logs and metrics stay small.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelloop.server.logs import request_id
from labelloop.server.metrics import Metrics

HEADER = "X-Request-ID"
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Probes and scrapes come every few seconds: their lines are DEBUG, not INFO.
QUIET = frozenset({"/api/v1/health", "/api/v1/ready", "/api/v1/metrics"})

log = logging.getLogger("labelloop.request")


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``<unmatched>`` when none did), with the prefix
    of the router it was included under, taken from the request's path (prefixes hold no
    parameters)."""
    route = scope.get("route")
    template: Any = getattr(route, "path", None)
    if not isinstance(template, str):
        if "endpoint" in scope:  # a mounted app (static files): its mount point
            mount: str = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
            return mount or "/"
        return "<unmatched>"
    if isinstance(route, Mount):
        return template
    segments = scope["path"].rstrip("/").split("/")
    depth = len(segments) - len(template.split("/")) + 1
    return "/".join(segments[:depth]) + template


class ObserveMiddleware:
    """Give each request an id, log it when answered, and count it in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(HEADER, "")
        rid = sent if _TOKEN.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        start = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(HEADER, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status is None:  # answer here, so that the client gets the id to report
                await JSONResponse({"detail": "internal error"}, 500)(scope, receive, send_with_id)
            raise  # for the server to log the traceback
        finally:
            status = status or 500
            seconds = time.perf_counter() - start
            route = route_of(scope)
            self.metrics.observe(
                method=scope["method"], route=route, status=status, seconds=seconds
            )
            level = (
                logging.ERROR
                if status >= 500
                else logging.DEBUG
                if route in QUIET
                else logging.INFO
            )
            log.log(
                level,
                "request",
                extra={
                    "method": scope["method"],
                    "path": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "user": scope.get("state", {}).get("user"),
                },
            )
            request_id.reset(token)

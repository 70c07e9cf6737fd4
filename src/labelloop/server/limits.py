"""Request size limits: a body over its limit gets 413, and no more of it is read.

The import endpoint takes files of up to ``max_upload_mb`` MiB (plus room for the multipart
framing: the route itself stops at the file's exact limit while it writes the file to disk);
every other endpoint takes bodies of up to ``max_body_kb`` KiB. A ``Content-Length`` over the
limit is refused before any of the body is read; a chunked body is counted as it arrives.

FastAPI reads (and spools to disk) a multipart body *before* a route's dependencies check who is
asking, so the upload limit is given only to a request whose credentials (checked here first)
belong to someone who may import; a stranger's upload gets the small limit of every other body.
"""

from __future__ import annotations

import re

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelloop.accounts.roles import allowed
from labelloop.errors import LabelloopError, PayloadTooLarge
from labelloop.server.errors import error_response
from labelloop.settings import Settings

UPLOAD_PATH = re.compile(r"^/api/v1/projects/[^/]+/imports/?$")
MULTIPART_SLACK = 1 << 20  # boundaries, part headers and the small form fields beside the file


def upload_too_large(settings: Settings) -> PayloadTooLarge:
    """The error of an upload over ``max_upload_mb``."""
    return PayloadTooLarge(
        f"the upload is larger than the limit of {settings.max_upload_mb} MiB "
        "(setting LABELLOOP_MAX_UPLOAD_MB)"
    )


def body_too_large(settings: Settings) -> PayloadTooLarge:
    """The error of a request body over ``max_body_kb``."""
    return PayloadTooLarge(
        f"the request body is larger than the limit of {settings.max_body_kb} KiB "
        "(setting LABELLOOP_MAX_BODY_KB)"
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware enforcing the limits of ``settings`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def _limit(self, scope: Scope) -> tuple[int, PayloadTooLarge]:
        if UPLOAD_PATH.match(scope["path"]) and await _may_import(scope):
            upload = self.settings.max_upload_mb * (1 << 20) + MULTIPART_SLACK
            return upload, upload_too_large(self.settings)
        return self.settings.max_body_kb * (1 << 10), body_too_large(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, error = await self._limit(scope)
        length = _content_length(scope)
        if length is not None and length > limit:
            await error_response(error)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request" and not started:
                received += len(message.get("body", b""))
                if received > limit:
                    # server/errors.py answers it, even under FastAPI's 400 wrapper
                    raise PayloadTooLarge(str(error))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, watched_send)


async def _may_import(scope: Scope) -> bool:
    """Whether the request's credentials (bearer token or session cookie with its CSRF token)
    belong to a user whose role may import items; the route checks the project itself."""
    from labelloop.server.deps import authenticate_request

    request = Request(scope)
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return False
    try:
        user = await anyio.to_thread.run_sync(authenticate_request, request, engine)
    except LabelloopError:
        return False
    return allowed(user.role, "item.import")

"""The one place that turns labelloop's exceptions into HTTP answers.

Every error body is ``{"detail": "<message>"}``; an :class:`~labelloop.errors.InputFileError` adds
``"rejects": [{"file", "line", "field", "reason"}, ...]``::

    NotFoundError                     404
    ConfigError, RuleError            422  (the message names the key)
    InputFileError                    422  (+ rejects)
    ConflictError                     409
    AuthError                         401  (with ``WWW-Authenticate: Bearer``)
    └── PermissionDenied              403
    ModelError                        502  the model (a plugin, an HTTP model, a model file) failed:
                                           the request was fine, what stands behind the server was
                                           not, so clients may retry
    PayloadTooLarge                   413  (the message names the limit and its setting)
    RateLimited                       429  (with ``Retry-After: <seconds>``)
    any other LabelloopError          400
    request validation (FastAPI)      422  (the message names the field)
    an error of ours under FastAPI's  as that error (FastAPI wraps whatever breaks while it reads a
    "error parsing the body" 400           body, e.g. a body over its limit, in a bare 400)

A 401, 403 or 429 under ``/api/`` is also counted, per minute and source, and the first of each
minute written to the audit log (:func:`~labelloop.accounts.denials.record_denial`):
``access.denied`` or ``access.throttled``, or
``<kind>.denied`` / ``<kind>.throttled`` where the route set ``request.state.audit =
{"kind": ..., **details}`` (the login sets ``auth.login`` and the username tried).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from labelloop.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    InputFileError,
    LabelloopError,
    ModelError,
    NotFoundError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RuleError,
)

# Most specific first: the first matching class decides.
STATUS: tuple[tuple[type[LabelloopError], int], ...] = (
    (PermissionDenied, 403),
    (AuthError, 401),
    (NotFoundError, 404),
    (InputFileError, 422),
    (ConfigError, 422),
    (RuleError, 422),
    (ConflictError, 409),
    (ModelError, 502),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
)
AUDITED = frozenset({401, 403, 429})


def status_for(exc: LabelloopError) -> int:
    """The HTTP status code of a labelloop error."""
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def error_response(exc: LabelloopError) -> JSONResponse:
    """The answer to ``exc`` (also for middleware, which runs outside the exception handlers)."""
    code = status_for(exc)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, InputFileError):
        body["rejects"] = exc.rejects_json()
    headers: dict[str, str] = {}
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=code, headers=headers or None)


async def _audit_denial(request: Request, exc: LabelloopError, code: int) -> None:
    from labelloop.accounts.denials import record_denial

    engine = getattr(request.app.state, "engine", None)
    if engine is None or not request.url.path.startswith("/api/"):
        return
    details = dict(getattr(request.state, "audit", {}))
    kind = details.pop("kind", "access")
    user = getattr(request.state, "user", None)
    actor = getattr(user, "username", user) or "anonymous"
    payload = {
        **details,
        "method": request.method,
        "path": request.url.path,
        "status": code,
        "reason": str(exc),
        "ip": request.client.host if request.client else None,
    }
    action = f"{kind}.throttled" if code == 429 else f"{kind}.denied"
    await run_in_threadpool(record_denial, engine, actor=str(actor), action=action, payload=payload)


async def _labelloop_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LabelloopError):  # pragma: no cover - registered for this class only
        raise exc
    response = error_response(exc)
    if response.status_code in AUDITED:
        await _audit_denial(request, exc, response.status_code)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for this class only
        raise exc
    if isinstance(exc.__cause__, LabelloopError):
        return await _labelloop_error(request, exc.__cause__)
    return await http_exception_handler(request, exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors
    ]
    return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)


# What every error answer looks like; the OpenAPI schema says so for its 422s too (FastAPI would
# describe its own list of validation errors there, which this server never sends).
ERROR_BODY: dict[str, object] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"title": "Detail", "type": "string"},
        "rejects": {
            "title": "Rejects",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string"},
                    "line": {"type": "integer"},
                    "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


def _document(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI keeps it in app.openapi_schema
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_BODY
                schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``; its OpenAPI schema describes the error body."""
    _document(app)
    app.add_exception_handler(LabelloopError, _labelloop_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

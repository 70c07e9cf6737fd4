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
    any other LabelloopError          400
    request validation (FastAPI)      422  (the message names the field)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from labelloop.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    InputFileError,
    LabelloopError,
    ModelError,
    NotFoundError,
    PermissionDenied,
    RuleError,
)

MAX_REJECTS = 1000

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
)


def status_for(exc: LabelloopError) -> int:
    """The HTTP status code of a labelloop error."""
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def rejects_json(exc: InputFileError) -> list[dict[str, object]]:
    """An import's rejects as JSON objects (at most ``MAX_REJECTS``)."""
    return [
        {"file": r.file, "line": r.line, "field": r.field, "reason": r.reason}
        for r in exc.rejects[:MAX_REJECTS]
    ]


async def _labelloop_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LabelloopError):  # pragma: no cover - registered for this class only
        raise exc
    code = status_for(exc)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, InputFileError):
        body["rejects"] = rejects_json(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(body, status_code=code, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors
    ]
    return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(LabelloopError, _labelloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

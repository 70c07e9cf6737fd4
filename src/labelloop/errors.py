"""Exceptions raised by labelloop.

The whole tree, so callers (CLI, server) can map each branch to one answer::

    LabelloopError
    ├── ConfigError            invalid project config; names the key
    │   └── AnswerError        an answer does not fit its task kind; names what is wrong
    ├── NotFoundError          a project, item, model version... does not exist
    ├── ConflictError          the request clashes with the current state (task already answered)
    ├── AuthError              unknown user, bad password or token, expired session
    │   └── PermissionDenied   known user, but their role may not do this
    ├── InputFileError         a data file cannot be read; names file, line and field
    ├── RuleError              a routing rule does not parse or uses a forbidden construct
    ├── ModelError             a model cannot be trained, loaded or asked for probabilities
    │   └── NotFittedError     an estimator was used before ``fit``
    ├── EmptyPoolError         a query strategy was asked to choose from no candidates
    ├── AuditError             the event log's hash chain is broken
    ├── RateLimited            too many failed attempts; ``retry_after`` says when to try again
    ├── JobFailed              a background job one waited for failed; names the job and why
    └── PayloadTooLarge        a request body or upload is over its limit; names the limit
"""

from __future__ import annotations

from dataclasses import dataclass


class LabelloopError(Exception):
    """Base of every error labelloop raises on purpose."""


class ConfigError(LabelloopError):
    """A project configuration is invalid."""


class AnswerError(ConfigError, ValueError):
    """An answer does not fit the project's task kind (also a ``ValueError``)."""


class NotFoundError(LabelloopError):
    """A named object does not exist."""


@dataclass(frozen=True)
class Reject:
    """One record that could not be imported."""

    file: str
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.field:
            where += f": field '{self.field}'"
        return f"{where}: {self.reason}"


class ConflictError(LabelloopError):
    """The request clashes with the current state."""


class AuthError(LabelloopError):
    """Who is asking could not be established."""


class PermissionDenied(AuthError):
    """The user is known but may not do this."""


#: Most rejects an answer or a job's result lists (an import reports how many there were).
MAX_REJECTS_SHOWN = 1000


class InputFileError(LabelloopError):
    """A data file has bad records; ``rejects`` lists every one found."""

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = rejects
        head = str(rejects[0]) if rejects else "no records"
        more = f" (and {len(rejects) - 1} more)" if len(rejects) > 1 else ""
        super().__init__(head + more)

    def rejects_json(self, limit: int = MAX_REJECTS_SHOWN) -> list[dict[str, object]]:
        """The first ``limit`` rejects as JSON objects (file, line, field, reason), for an HTTP
        answer or a job's result."""
        return [
            {"file": r.file, "line": r.line, "field": r.field, "reason": r.reason}
            for r in self.rejects[:limit]
        ]


class RuleError(LabelloopError):
    """A routing rule is malformed or unsafe."""


class ModelError(LabelloopError):
    """A model cannot be trained, loaded or queried."""


class NotFittedError(ModelError):
    """An estimator was used before it was fitted."""


class EmptyPoolError(LabelloopError):
    """A query strategy got no candidates to choose from."""


class AuditError(LabelloopError):
    """The audit log does not verify."""


class JobFailed(LabelloopError):
    """A background job that was waited for failed; the message names the job and its reason."""


class RateLimited(LabelloopError):
    """Too many failed attempts; try again in ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"{message}; try again in {retry_after} s")


class PayloadTooLarge(LabelloopError):
    """A request body or upload is larger than the setting that limits it."""

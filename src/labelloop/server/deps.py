"""Dependencies of the routes, as ``Annotated`` aliases.

Who is asking: an ``Authorization: Bearer <token>`` header (API token), or the
``labelloop_session`` cookie of a browser session. A cookie-authenticated unsafe request
(POST, PUT, PATCH, DELETE) must also send the session's ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from labelloop.accounts.roles import PERMISSIONS, allowed
from labelloop.accounts.users import User, session_for, user_for_token
from labelloop.errors import AuthError, PermissionDenied
from labelloop.loop.project import Project
from labelloop.server.metrics import Metrics
from labelloop.server.projects import ProjectCache
from labelloop.settings import Settings

SESSION_COOKIE = "labelloop_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The app's store."""
    engine: Engine = request.app.state.engine
    return engine


def get_metrics(request: Request) -> Metrics:
    """The process's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def current_user(request: Request, engine: EngineDep) -> User:
    """The user behind the bearer token or the session cookie; :class:`AuthError` otherwise.
    Their name goes on the request's log line."""
    user = _authenticate(request, engine)
    request.state.user = user.username
    return user


def _authenticate(request: Request, engine: Engine) -> User:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return user_for_token(engine, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthError("not logged in")
    session = session_for(engine, cookie)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise PermissionDenied(f"missing or wrong {CSRF_HEADER} header")
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


def require(action: str) -> Callable[[User], User]:
    """A dependency: the current user, if their role may perform ``action``."""
    if action not in PERMISSIONS:
        raise ValueError(
            f"The 'action' parameter must be one of {', '.join(PERMISSIONS)}. "
            f"Got {action!r} instead."
        )

    def check(user: CurrentUser) -> User:
        if not allowed(user.role, action):
            raise PermissionDenied(f"a {user.role} may not do {action}")
        return user

    check.__name__ = f"require_{action.replace('.', '_')}"
    return check


def get_projects(request: Request) -> ProjectCache:
    """The app's open projects."""
    projects: ProjectCache = request.app.state.projects
    return projects


def get_project(
    name: str, projects: Annotated[ProjectCache, Depends(get_projects)], _user: CurrentUser
) -> Project:
    """The project named in the path (after authentication, so strangers learn no names)."""
    return projects.get(name)


ProjectsDep = Annotated[ProjectCache, Depends(get_projects)]
ProjectDep = Annotated[Project, Depends(get_project)]

# Row ids in paths: past the largest INTEGER the stores hold, a 422 instead of a driver error.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

# One alias per action the routes use: ``user: Can["task.work"]`` is not expressible, so these.
ProjectReader = Annotated[User, Depends(require("project.read"))]
ProjectCreator = Annotated[User, Depends(require("project.create"))]
ProjectManager = Annotated[User, Depends(require("project.manage"))]
TaskWorker = Annotated[User, Depends(require("task.work"))]
ItemReader = Annotated[User, Depends(require("item.read"))]
ItemImporter = Annotated[User, Depends(require("item.import"))]
AnnotationReader = Annotated[User, Depends(require("annotation.read"))]
ModelReader = Annotated[User, Depends(require("model.read"))]
ModelTrainer = Annotated[User, Depends(require("model.train"))]
MetricsReader = Annotated[User, Depends(require("metrics.read"))]
DatasetExporter = Annotated[User, Depends(require("dataset.export"))]
UserManager = Annotated[User, Depends(require("user.manage"))]
AuditReader = Annotated[User, Depends(require("audit.read"))]

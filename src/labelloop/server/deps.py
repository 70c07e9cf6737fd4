"""Dependencies of the routes, as ``Annotated`` aliases.

Who is asking: an ``Authorization: Bearer <token>`` header (API token), or the
``labelloop_session`` cookie of a browser session. A cookie-authenticated unsafe request
(POST, PUT, PATCH, DELETE) must also send the session's ``X-CSRF-Token`` header.

On a per-project route (a ``{name}`` path parameter) the project is the first thing checked
after the user: someone who is neither an admin nor a member gets the 404 a missing project gets,
whatever the route. The route's action is then checked against the role as the membership's
tier caps it (:meth:`Membership.may`), so a reviewer at the annotator tier reads no more there
than an annotator does.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from labelloop.accounts.memberships import Membership, membership
from labelloop.accounts.roles import PERMISSIONS, allowed
from labelloop.accounts.users import User, session_for, user_for_token
from labelloop.errors import AuthError, NotFoundError, PermissionDenied
from labelloop.jobs.worker import Worker
from labelloop.loop.project import Project
from labelloop.server.metrics import Metrics
from labelloop.server.passwords import PasswordChecks
from labelloop.server.projects import ProjectCache
from labelloop.settings import Settings
from labelloop.store.lookups import project_id_by_name

SESSION_COOKIE = "labelloop_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROJECT_PARAM = "name"  # the path parameter of every per-project route


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


def get_passwords(request: Request) -> PasswordChecks:
    """The process's password checks (login limits, bounded hashing)."""
    passwords: PasswordChecks = request.app.state.passwords
    return passwords


def get_worker(request: Request) -> Worker:
    """The process's job worker: :meth:`Worker.submit` queues a job for it."""
    worker: Worker = request.app.state.worker
    return worker


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy says it is (see app.py)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
PasswordsDep = Annotated[PasswordChecks, Depends(get_passwords)]
WorkerDep = Annotated[Worker, Depends(get_worker)]


def current_user(request: Request, engine: EngineDep) -> User:
    """The user behind the bearer token or the session cookie; :class:`AuthError` otherwise.
    Their name goes on the request's log line."""
    user = authenticate_request(request, engine)
    request.state.user = user.username
    return user


def authenticate_request(request: Request, engine: Engine) -> User:
    """The user behind the request's bearer token or session cookie (with, on an unsafe
    request, its CSRF header); :class:`AuthError` or :class:`PermissionDenied` otherwise."""
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


@dataclass(frozen=True)
class ProjectAccess:
    """A project and the membership through which the current user sees it."""

    project: Project
    member: Membership


def access_for(projects: ProjectCache, user: User, name: str) -> ProjectAccess:
    """``user``'s access to the project ``name``; :class:`NotFoundError`, worded as for a missing
    project, unless they are an admin or a member. Membership is checked before the project is
    opened, so that a non-member neither makes the server open (and keep) it nor can time the
    difference between a project that exists and one that does not."""
    missing = NotFoundError(f"no project called {name!r}")
    with projects.engine.connect() as conn:
        project_id = project_id_by_name(conn, name)
        if project_id is None:
            raise missing
        try:
            member = membership(conn, project_id=project_id, username=user.username)
        except NotFoundError:
            raise missing from None
    return ProjectAccess(projects.get(name), member)


def project_access(request: Request, user: User) -> ProjectAccess:
    """:func:`access_for` the project in the request's path, looked up once per request."""
    found: ProjectAccess | None = getattr(request.state, "project_access", None)
    if found is None:
        found = access_for(get_projects(request), user, request.path_params[PROJECT_PARAM])
        request.state.project_access = found
    return found


def _denied(member: Membership, action: str) -> PermissionDenied:
    if member.capped_role == member.role:
        return PermissionDenied(f"a {member.role} may not do {action}")
    return PermissionDenied(
        f"a {member.role} at the {member.tier} tier of this project may not do {action}"
    )


def require(action: str) -> Callable[[Request, User], User]:
    """A dependency: the current user, if they may perform ``action`` (on a per-project route:
    on that project, as their membership caps their role; 404 if they are not on it)."""
    if action not in PERMISSIONS:
        raise ValueError(
            f"The 'action' parameter must be one of {', '.join(PERMISSIONS)}. "
            f"Got {action!r} instead."
        )

    def check(request: Request, user: CurrentUser) -> User:
        if PROJECT_PARAM in request.path_params:
            member = project_access(request, user).member
            if not member.may(action):
                raise _denied(member, action)
        elif not allowed(user.role, action):
            raise PermissionDenied(f"a {user.role} may not do {action}")
        return user

    check.__name__ = f"require_{action.replace('.', '_')}"
    return check


def get_projects(request: Request) -> ProjectCache:
    """The app's open projects."""
    projects: ProjectCache = request.app.state.projects
    return projects


def get_project(name: str, request: Request, user: CurrentUser) -> Project:
    """The project ``name`` in the path, if the user is an admin or a member (after
    authentication, so strangers learn no names; 404 for non-members, as for a missing one)."""
    return project_access(request, user).project


ProjectsDep = Annotated[ProjectCache, Depends(get_projects)]
ProjectDep = Annotated[Project, Depends(get_project)]


def get_member(request: Request, user: CurrentUser, _project: ProjectDep) -> Membership:
    """The current user's membership of the project in the path."""
    return project_access(request, user).member


MemberDep = Annotated[Membership, Depends(get_member)]

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

"""Page routes: login, project list, account, admin; with the work pages
(:mod:`~labelloop.server.web.work_pages`) and the dashboard
(:mod:`~labelloop.server.web.dashboard`), what :func:`make_router` mounts.

Pages authenticate with the session cookie only (see :mod:`~labelloop.server.web.rendering`).
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from labelloop.accounts.memberships import sees_every_project
from labelloop.accounts.roles import ROLES, allowed
from labelloop.accounts.users import TokenInfo, end_session, list_tokens, list_users
from labelloop.errors import LabelloopError, NotFoundError
from labelloop.server import crud
from labelloop.server.deps import SESSION_COOKIE
from labelloop.server.web.dashboard import dashboard_routes
from labelloop.server.web.next_url import safe_next
from labelloop.server.web.rendering import Pages, access, project_links, session_of, to_login
from labelloop.server.web.work_pages import work_routes

EXPORT_FORMATS = ("jsonl", "csv", "parquet")


def _tokens_by_user(tokens: list[TokenInfo]) -> dict[str, list[TokenInfo]]:
    grouped: dict[str, list[TokenInfo]] = {}
    for info in tokens:
        grouped.setdefault(info.username, []).append(info)
    return grouped


def make_router() -> APIRouter:
    """The page routes (templates are loaded here, not at import time)."""
    pages = Pages()
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        session = session_of(request)
        if session is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return pages.render(request, "login.html", None, next=safe_next(next))

    @router.get("/logout")
    def logout_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return pages.render(request, "logout.html", session)

    @router.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if session is not None:
            if not hmac.compare_digest(csrf_token.encode(), session.csrf_token.encode()):
                return pages.problem(request, session, 403, "Log-out refused: wrong CSRF token.")
            end_session(request.app.state.engine, request.cookies[SESSION_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @router.get("/")
    def index(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        user = session.user
        member = None if sees_every_project(user.role) else user.username
        projects = []
        for summary in crud.list_projects(request.app.state.engine, member=member):
            try:
                links = project_links(access(request, session, summary["name"]).member)
            except NotFoundError:  # removed since the list was read
                continue
            except LabelloopError as exc:  # its config no longer loads: list it, say why
                projects.append({**summary, "problem": str(exc)})
                continue
            projects.append({**summary, **links})
        return pages.render(request, "index.html", session, projects=projects)

    @router.get("/account")
    def account_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        engine = request.app.state.engine
        return pages.render(
            request,
            "account.html",
            session,
            tokens=list_tokens(engine, username=session.user.username),
            token_days=request.app.state.settings.token_days,
        )

    @router.get("/admin")
    def admin_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        if not allowed(session.user.role, "user.manage"):
            return pages.problem(request, session, 403, "The admin page is for admins.")
        engine = request.app.state.engine
        projects = []
        for summary in crud.list_projects(engine):
            try:
                config = request.app.state.projects.get(summary["name"]).config.model_dump(
                    mode="json"
                )
            except LabelloopError as exc:
                config = {"error": str(exc)}
            projects.append(
                {"name": summary["name"], "config": json.dumps(config, indent=2, sort_keys=True)}
            )
        return pages.render(
            request,
            "admin.html",
            session,
            users=list_users(engine, include_inactive=True),
            tokens=_tokens_by_user(list_tokens(engine)),
            roles=ROLES,
            projects=projects,
            export_formats=EXPORT_FORMATS,
        )

    router.include_router(work_routes(pages))
    router.include_router(dashboard_routes(pages))
    return router

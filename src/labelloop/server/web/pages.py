"""Page routes: login, project list, annotate, review, adjudicate, dashboard, account, admin.

Pages authenticate with the session cookie only; a page request without a live session is sent
to ``/login``. The session's CSRF token is rendered into a ``<meta>`` tag for the page's fetch()
calls; the cookie itself is HttpOnly and never appears in a page.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FunctionLoader

from labelloop.accounts.memberships import Membership, sees_every_project
from labelloop.accounts.roles import ROLES, allowed, tiers_for
from labelloop.accounts.users import (
    Session,
    TokenInfo,
    end_session,
    list_tokens,
    list_users,
    session_for,
)
from labelloop.errors import AuthError, LabelloopError, NotFoundError
from labelloop.kinds import KINDS, kind_for
from labelloop.server.deps import SESSION_COOKIE, ProjectAccess, access_for
from labelloop.server.routes.jobs import sees_every_job, visible_jobs
from labelloop.server.web import TEMPLATES_DIR
from labelloop.server.web.charts import learning_curve
from labelloop.server.web.next_url import safe_next
from labelloop.tiers import TIERS, Tier

# Pages load only their own script and stylesheet; nothing inline runs, nothing can frame them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_BREAK_MINUTES = 24 * 60
# The work page's modes and the tier each takes tasks from (annotate may name a lower one).
MODE_TIERS: dict[str, Tier] = dict(zip(("annotate", "review", "adjudicate"), TIERS, strict=True))
EXPORT_FORMATS = ("jsonl", "csv", "parquet")
MAX_FAILED_JOBS_SHOWN = 10


def label_keys(labels: tuple[str, ...]) -> list[str]:
    """The key of each label: the label itself when all are single digits, else 1-9 then 0."""
    if len(labels) <= 10 and all(len(x) == 1 and x.isdigit() for x in labels):
        return list(labels)
    return [str((n + 1) % 10) if n < 10 else "" for n in range(len(labels))]


def _widget_template(name: str) -> str | None:
    """``widgets/<kind>.html``: the answer widget's template of a registered task kind."""
    kind = name.removeprefix("widgets/").removesuffix(".html")
    if name != f"widgets/{kind}.html" or kind not in KINDS:
        return None
    return KINDS[kind].widget.template_text()


def _session(request: Request) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return session_for(request.app.state.engine, cookie)
    except AuthError:
        return None


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def project_links(member: Membership) -> dict[str, bool]:
    """Which of a project's pages to link for ``member``."""
    return {
        "can_review": "reviewer" in member.tiers,
        "can_adjudicate": "expert" in member.tiers,
        "can_see_metrics": member.may("metrics.read"),
    }


def _tokens_by_user(tokens: list[TokenInfo]) -> dict[str, list[TokenInfo]]:
    grouped: dict[str, list[TokenInfo]] = {}
    for info in tokens:
        grouped.setdefault(info.username, []).append(info)
    return grouped


def make_router() -> APIRouter:
    """The page routes (templates are loaded here, not at import time)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.loader = ChoiceLoader(
        [templates.env.loader, FunctionLoader(_widget_template)]  # type: ignore[list-item]
    )
    router = APIRouter(include_in_schema=False)

    def render(
        request: Request,
        name: str,
        session: Session | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        user = session.user if session else None
        response = templates.TemplateResponse(
            request,
            name,
            {
                "user": user,
                "csrf_token": session.csrf_token if session else "",
                "can_review": user is not None and "reviewer" in tiers_for(user.role),
                "can_see_metrics": user is not None and allowed(user.role, "metrics.read"),
                "can_adjudicate": user is not None and "expert" in tiers_for(user.role),
                "is_admin": user is not None and allowed(user.role, "user.manage"),
                **context,
            },
            status_code=status_code,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def problem(request: Request, session: Session, code: int, message: str) -> HTMLResponse:
        return render(request, "message.html", session, status_code=code, message=message)

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        session = _session(request)
        if session is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return render(request, "login.html", None, next=safe_next(next))

    @router.get("/logout")
    def logout_page(request: Request) -> Response:
        session = _session(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return render(request, "logout.html", session)

    @router.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        session = _session(request)
        if session is not None:
            if not hmac.compare_digest(csrf_token.encode(), session.csrf_token.encode()):
                return problem(request, session, 403, "Log-out refused: wrong CSRF token.")
            end_session(request.app.state.engine, request.cookies[SESSION_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @router.get("/")
    def index(request: Request) -> Response:
        session = _session(request)
        if session is None:
            return _to_login(request)
        from labelloop.server import crud

        user = session.user
        member = None if sees_every_project(user.role) else user.username
        projects = []
        for summary in crud.list_projects(request.app.state.engine, member=member):
            try:
                links = project_links(_access(request, session, summary["name"]).member)
            except NotFoundError:  # removed since the list was read
                continue
            projects.append({**summary, **links})
        return render(request, "index.html", session, projects=projects)

    def _project(request: Request, name: str) -> Any:
        return request.app.state.projects.get(name)

    def _access(request: Request, session: Session, name: str) -> ProjectAccess:
        return access_for(request.app.state.projects, session.user, name)

    def _work_page(
        request: Request, name: str, *, mode: str, tier: str | None, break_minutes: float
    ) -> Response:
        session = _session(request)
        if session is None:
            return _to_login(request)
        tier = tier or MODE_TIERS[mode]
        if not 0 < break_minutes <= MAX_BREAK_MINUTES:
            return problem(
                request,
                session,
                422,
                f"The 'break_minutes' parameter must be a number in (0, {MAX_BREAK_MINUTES}]. "
                f"Got {break_minutes} instead.",
            )
        try:
            access = _access(request, session, name)
        except NotFoundError as exc:
            return problem(request, session, 404, str(exc))
        project, member = access.project, access.member
        if tier not in member.tiers:
            return problem(
                request, session, 403, f"{member.username} may not take {tier} tasks here."
            )
        config = project.config
        kind = kind_for(config)
        page = {
            "project": project.name,
            "mode": mode,
            "tier": tier,
            "user": session.user.username,
            "labels": list(config.labels),
            "keys": label_keys(config.labels),
            "kind": kind.name,
            "widget": {"name": kind.widget.name, "options": dict(kind.widget.options)},
            "data": config.data,
            "text_field": config.text_field,
            "feature_fields": list(config.feature_fields),
            "image_shape": list(config.image_shape) if config.image_shape else None,
            "break_minutes": break_minutes,
        }
        return render(
            request,
            "annotate.html",
            session,
            project=project.name,
            mode=mode,
            tier=tier,
            labels=list(zip(page["keys"], config.labels, strict=True)),
            kind=kind,
            guidelines=project.guidelines() or config.guidelines,
            **project_links(member),
            page=page,  # embedded with Jinja's tojson, which escapes < > & ' as \u003c ...
        )

    @router.get("/widgets/{kind}.js")
    def widget_script(kind: str) -> Response:
        """The answer widget's script of a registered task kind."""
        if kind not in KINDS:
            return Response("no such task kind", status_code=404, media_type="text/plain")
        return Response(
            KINDS[kind].widget.script_text(),
            media_type="text/javascript",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @router.get("/projects/{name}/annotate")
    def annotate_page(
        request: Request, name: str, tier: str | None = None, break_minutes: float = 50
    ) -> Response:
        return _work_page(request, name, mode="annotate", tier=tier, break_minutes=break_minutes)

    @router.get("/projects/{name}/review")
    def review_page(request: Request, name: str, break_minutes: float = 50) -> Response:
        return _work_page(
            request, name, mode="review", tier="reviewer", break_minutes=break_minutes
        )

    @router.get("/projects/{name}/adjudicate")
    def adjudicate_page(request: Request, name: str, break_minutes: float = 50) -> Response:
        return _work_page(
            request, name, mode="adjudicate", tier="expert", break_minutes=break_minutes
        )

    @router.get("/projects/{name}/dashboard")
    def dashboard_page(request: Request, name: str) -> Response:
        session = _session(request)
        if session is None:
            return _to_login(request)
        try:
            access = _access(request, session, name)
        except NotFoundError as exc:
            return problem(request, session, 404, str(exc))
        project, member = access.project, access.member
        if not member.may("metrics.read"):
            return problem(request, session, 403, "The dashboard is for reviewers and up.")
        status = project.status()
        accuracy = project.estimated_accuracy()
        models = [m for m in status["models"] if m.get("accuracy") is not None]
        chart = learning_curve([(int(m["n_labels"]), float(m["accuracy"])) for m in models])
        failed_jobs = visible_jobs(
            request.app.state.engine,
            project_id=project.id,
            user=session.user,
            status="failed",
            limit=MAX_FAILED_JOBS_SHOWN,
        )
        return render(
            request,
            "dashboard.html",
            session,
            project=project.name,
            status=status,
            tiers=TIERS,
            chart=chart,
            agreement=project.agreement_report(),
            guidelines=project.guideline_report(),
            accuracy=accuracy,
            gates=project.check_gates(accuracy=accuracy),
            annotators=project.annotator_report(),
            # The panel is for whoever sees the project's jobs, or has failed ones of their own.
            failed_jobs=failed_jobs if failed_jobs or sees_every_job(session.user) else None,
            **project_links(member),
        )

    @router.get("/account")
    def account_page(request: Request) -> Response:
        session = _session(request)
        if session is None:
            return _to_login(request)
        engine = request.app.state.engine
        return render(
            request,
            "account.html",
            session,
            tokens=list_tokens(engine, username=session.user.username),
            token_days=request.app.state.settings.token_days,
        )

    @router.get("/admin")
    def admin_page(request: Request) -> Response:
        session = _session(request)
        if session is None:
            return _to_login(request)
        if not allowed(session.user.role, "user.manage"):
            return problem(request, session, 403, "The admin page is for admins.")
        from labelloop.server import crud

        engine = request.app.state.engine
        projects = []
        for summary in crud.list_projects(engine):
            try:
                config = _project(request, summary["name"]).config.model_dump(mode="json")
            except LabelloopError as exc:
                config = {"error": str(exc)}
            projects.append(
                {"name": summary["name"], "config": json.dumps(config, indent=2, sort_keys=True)}
            )
        return render(
            request,
            "admin.html",
            session,
            users=list_users(engine, include_inactive=True),
            tokens=_tokens_by_user(list_tokens(engine)),
            roles=ROLES,
            projects=projects,
            export_formats=EXPORT_FORMATS,
        )

    return router

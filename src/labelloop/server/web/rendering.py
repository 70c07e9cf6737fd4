"""What every page route shares: its templates, its security headers, who is asking.

Pages authenticate with the session cookie only; a page request without a live session is sent
to ``/login``. The session's CSRF token is rendered into a ``<meta>`` tag for the page's fetch()
calls; the cookie itself is HttpOnly and never appears in a page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FunctionLoader

from labelloop.accounts.memberships import Membership
from labelloop.accounts.roles import allowed, tiers_for
from labelloop.accounts.users import Session, session_for
from labelloop.errors import AuthError
from labelloop.kinds import KINDS
from labelloop.server.deps import SESSION_COOKIE, ProjectAccess, access_for
from labelloop.server.web import TEMPLATES_DIR

# Pages load only their own script and stylesheet; nothing inline runs, nothing can frame them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _widget_template(name: str) -> str | None:
    """``widgets/<kind>.html``: the answer widget's template of a registered task kind."""
    kind = name.removeprefix("widgets/").removesuffix(".html")
    if name != f"widgets/{kind}.html" or kind not in KINDS:
        return None
    return KINDS[kind].widget.template_text()


class Pages:
    """Renders the page templates (loaded when made, not at import time) with the headers every
    page sends."""

    def __init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.loader = ChoiceLoader(
            [self.templates.env.loader, FunctionLoader(_widget_template)]  # type: ignore[list-item]
        )

    def render(
        self,
        request: Request,
        name: str,
        session: Session | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """The template ``name`` for whoever ``session`` belongs to."""
        user = session.user if session else None
        response = self.templates.TemplateResponse(
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

    def problem(self, request: Request, session: Session, code: int, message: str) -> HTMLResponse:
        """A page that says what went wrong, with status ``code``."""
        return self.render(request, "message.html", session, status_code=code, message=message)


def session_of(request: Request) -> Session | None:
    """The live session behind the request's cookie, if any."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return session_for(request.app.state.engine, cookie)
    except AuthError:
        return None


def to_login(request: Request) -> RedirectResponse:
    """To the login page, coming back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def access(request: Request, session: Session, name: str) -> ProjectAccess:
    """The project ``name`` and the session's standing on it (NotFoundError when not theirs)."""
    return access_for(request.app.state.projects, session.user, name)


def project_links(member: Membership) -> dict[str, bool]:
    """Which of a project's pages to link for ``member``."""
    return {
        "can_review": "reviewer" in member.tiers,
        "can_adjudicate": "expert" in member.tiers,
        "can_see_metrics": member.may("metrics.read"),
    }

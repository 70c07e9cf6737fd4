"""The work page — annotate, review, adjudicate — and the task kinds' answer widgets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from labelloop.errors import NotFoundError
from labelloop.kinds import KINDS, kind_for
from labelloop.server.web.rendering import Pages, access, project_links, session_of, to_login
from labelloop.tiers import TIERS, Tier

MAX_BREAK_MINUTES = 24 * 60
# The work page's modes and the tier each takes tasks from (annotate may name a lower one).
MODE_TIERS: dict[str, Tier] = dict(zip(("annotate", "review", "adjudicate"), TIERS, strict=True))


def label_keys(labels: tuple[str, ...]) -> list[str]:
    """The key of each label: the label itself when all are single digits, else 1-9 then 0."""
    if len(labels) <= 10 and all(len(x) == 1 and x.isdigit() for x in labels):
        return list(labels)
    return [str((n + 1) % 10) if n < 10 else "" for n in range(len(labels))]


def work_routes(pages: Pages) -> APIRouter:
    """The work pages and the widget scripts."""
    router = APIRouter()

    def _work_page(
        request: Request, name: str, *, mode: str, tier: str | None, break_minutes: float
    ) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        tier = tier or MODE_TIERS[mode]
        if not 0 < break_minutes <= MAX_BREAK_MINUTES:
            return pages.problem(
                request,
                session,
                422,
                f"The 'break_minutes' parameter must be a number in (0, {MAX_BREAK_MINUTES}]. "
                f"Got {break_minutes} instead.",
            )
        try:
            found = access(request, session, name)
        except NotFoundError as exc:
            return pages.problem(request, session, 404, str(exc))
        project, member = found.project, found.member
        if tier not in member.tiers:
            return pages.problem(
                request, session, 403, f"{member.username} may not take {tier} tasks here."
            )
        config = project.config
        kind = kind_for(config)
        keys = label_keys(config.labels)
        page = {
            "project": project.name,
            "mode": mode,
            "tier": tier,
            "user": session.user.username,
            "labels": list(config.labels),
            "keys": keys,
            "kind": kind.name,
            "widget": {"name": kind.widget.name, "options": dict(kind.widget.options)},
            "data": config.data,
            "text_field": config.text_field,
            "feature_fields": list(config.feature_fields),
            "image_shape": list(config.image_shape) if config.image_shape else None,
            "break_minutes": break_minutes,
        }
        return pages.render(
            request,
            "annotate.html",
            session,
            project=project.name,
            mode=mode,
            tier=tier,
            labels=list(zip(keys, config.labels, strict=True)),
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

    return router

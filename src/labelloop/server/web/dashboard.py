"""The project dashboard: status, learning curve, quality, gates, annotators, failed jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from labelloop.errors import NotFoundError
from labelloop.server.routes.jobs import sees_every_job, visible_jobs
from labelloop.server.web.charts import learning_curve
from labelloop.server.web.rendering import Pages, access, project_links, session_of, to_login
from labelloop.tiers import TIERS

MAX_FAILED_JOBS_SHOWN = 10


def dashboard_routes(pages: Pages) -> APIRouter:
    """The dashboard page."""
    router = APIRouter()

    @router.get("/projects/{name}/dashboard")
    def dashboard_page(request: Request, name: str) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        try:
            found = access(request, session, name)
        except NotFoundError as exc:
            return pages.problem(request, session, 404, str(exc))
        project, member = found.project, found.member
        if not member.may("metrics.read"):
            return pages.problem(request, session, 403, "The dashboard is for reviewers and up.")
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
        return pages.render(
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

    return router

"""Prometheus metrics (``GET /metrics``): for the ``metrics_token`` bearer, or an admin."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from labelloop.accounts.roles import allowed
from labelloop.errors import PermissionDenied
from labelloop.server.deps import EngineDep, MetricsDep, SettingsDep, current_user

router = APIRouter(tags=["metrics"])


def _is_scraper(request: Request, token: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


@router.get("/metrics", response_class=Response)
def metrics(
    request: Request, settings: SettingsDep, engine: EngineDep, metrics: MetricsDep
) -> Response:
    """The Prometheus exposition text: request counts and latencies, answers submitted, and the
    store's queues, items, answers and model versions."""
    token = settings.metrics_token
    if token is None or not _is_scraper(request, token.get_secret_value()):
        user = current_user(request, engine)
        if not allowed(user.role, "server.metrics"):
            raise PermissionDenied(f"a {user.role} may not do server.metrics")
    return Response(metrics.scrape(engine), media_type=CONTENT_TYPE_LATEST)

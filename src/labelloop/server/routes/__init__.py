"""One router per resource; :data:`ROUTERS` is what the app mounts under ``/api/v1``."""

from labelloop.server.routes import (
    annotations,
    audit,
    auth,
    certification,
    exports,
    health,
    items,
    jobs,
    members,
    metrics,
    models,
    projects,
    quality,
    suspect_labels,
    tasks,
    users,
)

ROUTERS = (
    health.router,
    auth.router,
    users.router,
    projects.router,
    members.router,
    items.router,
    jobs.router,
    tasks.router,
    annotations.router,
    models.router,
    exports.router,
    certification.router,
    quality.router,
    suspect_labels.router,
    audit.router,
    metrics.router,
)

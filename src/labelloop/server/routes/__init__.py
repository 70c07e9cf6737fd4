"""One router per resource; :data:`ROUTERS` is what the app mounts under ``/api/v1``."""

from labelloop.server.routes import (
    annotations,
    audit,
    auth,
    certification,
    exports,
    health,
    items,
    label_errors,
    members,
    metrics,
    models,
    projects,
    quality,
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
    tasks.router,
    annotations.router,
    models.router,
    exports.router,
    certification.router,
    quality.router,
    label_errors.router,
    audit.router,
    metrics.router,
)

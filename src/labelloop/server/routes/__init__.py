"""One router per resource; :data:`ROUTERS` is what the app mounts under ``/api/v1``."""

from labelloop.server.routes import (
    annotations,
    audit,
    auth,
    exports,
    health,
    items,
    models,
    projects,
    tasks,
    users,
)

ROUTERS = (
    health.router,
    auth.router,
    users.router,
    projects.router,
    items.router,
    tasks.router,
    annotations.router,
    models.router,
    exports.router,
    audit.router,
)

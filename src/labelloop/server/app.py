"""The app factory: nothing (no settings, no engine) is built at import time.

uvicorn --factory --no-proxy-headers labelloop.server.app:create_app

Client addresses (the login limits, the audit log) are the peer's, or, from a peer in the
``trusted_proxies`` setting, what its ``X-Forwarded-For`` names; uvicorn must not rewrite them
itself (``--no-proxy-headers``; ``labelloop serve`` and ``demo`` run it so).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from labelloop.server import errors
from labelloop.server.limits import BodyLimit
from labelloop.server.logs import configure_logging
from labelloop.server.metrics import Metrics
from labelloop.server.middleware import ObserveMiddleware
from labelloop.server.projects import ProjectCache
from labelloop.server.routes import ROUTERS
from labelloop.server.text_guard import refuse_unstorable_text
from labelloop.settings import Settings

API = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A labelloop API app; its store is opened (and migrated) on start-up, closed on shutdown."""
    settings = settings or Settings()
    configure_logging(settings)
    log = logging.getLogger("labelloop.server")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from labelloop.accounts.throttle import LoginLimits
        from labelloop.jobs.worker import attach, detach
        from labelloop.loop.project import connect
        from labelloop.server.passwords import PasswordChecks

        engine = connect(settings)
        app.state.engine = engine
        app.state.passwords = PasswordChecks(
            engine,
            LoginLimits.from_settings(settings),
            slots=settings.login_concurrent_hashes,
            counted=app.state.metrics.password_hashes.inc,
        )
        app.state.projects = ProjectCache(engine, settings)
        app.state.worker = attach(
            engine, app.state.projects.get, interval=settings.job_heartbeat_seconds
        )
        log.info("started", extra={"store": engine.dialect.name})
        try:
            yield
        finally:
            app.state.passwords.close()
            app.state.projects.close()
            detach(app.state.worker)
            engine.dispose()
            log.info("stopped")

    from labelloop import __version__

    app = FastAPI(
        title="labelloop",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # install_docs: Swagger UI from a package, not a CDN
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_text)],
    )
    app.state.settings = settings
    app.state.metrics = Metrics.from_environ()
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(ObserveMiddleware, metrics=app.state.metrics)
    if settings.trusted_proxies:  # outermost: every layer sees the client, not the proxy
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API)

    from fastapi.staticfiles import StaticFiles

    from labelloop.server.web import STATIC_DIR
    from labelloop.server.web.docs import install_docs
    from labelloop.server.web.pages import make_router

    app.include_router(make_router())
    install_docs(app, f"{API}/docs")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

"""``/api/v1/docs``: Swagger UI from files the server ships, so the page works offline.

Swagger UI's script and stylesheet come from the pinned ``fastapi-offline`` package (mounted at
:data:`ASSETS`), its start-up from ``static/swagger-init.js``; nothing inline runs, so the page
keeps the CSP of every other page.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from labelloop.server.web.rendering import CSP

ASSETS = "/swagger"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<script src="{assets}/swagger-ui-bundle.js" defer></script>
<script src="/static/swagger-init.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
</body>
</html>
"""


def install_docs(app: FastAPI, url: str) -> None:
    """Serve Swagger UI for ``app.openapi_url`` at ``url`` (give ``docs_url=None`` to FastAPI)."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, StaticFiles(directory=assets), name="swagger")
    page = _PAGE.format(
        title=escape(f"{app.title} API"),
        assets=ASSETS,
        openapi=escape(app.openapi_url or ""),
    )

    @app.get(url, include_in_schema=False)
    def docs() -> HTMLResponse:
        headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(page, headers=headers)

"""The browser face of the server: server-rendered pages that call the REST API with fetch().

:func:`labelloop.server.web.pages.make_router` builds the page routes; ``static/`` holds the one
hand-written script and stylesheet (no build step, nothing loaded from elsewhere).
"""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"

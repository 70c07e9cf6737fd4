"""The HTTP API, a thin face over the loop: :func:`labelloop.server.app.create_app`."""

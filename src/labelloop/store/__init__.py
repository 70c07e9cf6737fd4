"""Persistence: schema, engines and migrations, the audit log. Knows nothing of the web."""

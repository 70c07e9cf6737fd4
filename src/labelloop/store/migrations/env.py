"""Alembic environment: runs against the engine handed in by ``labelloop.store.engine``."""

from alembic import context

from labelloop.store.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

"""Alembic environment: runs on the connection `store.db.migrate` hands over."""

from alembic import context

from sage_pipelines.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # plain `alembic` command line
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

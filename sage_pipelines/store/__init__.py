"""The metadata store: SQLAlchemy models, Alembic migrations, encrypted secrets, history, audit."""

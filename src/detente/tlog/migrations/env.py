"""Alembic environment for the log's tables, run programmatically by ``LogStore.open``.

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``; no
``alembic.ini`` and no logging configuration are read.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("detente.tlog migrations run only through LogStore.open")
    context.configure(
        connection=connection,
        version_table="tlog_alembic_version",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()

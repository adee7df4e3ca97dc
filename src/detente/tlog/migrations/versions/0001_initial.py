"""The log's tables: entries, hash tiles, checkpoints and the single-row log state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tlog_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        # The compact range of the tree [0, size): its peaks concatenated, left to right.
        sa.Column("peaks", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("id = 1", name="tlog_state_single_row"),
        sa.CheckConstraint("size >= 0", name="tlog_state_size"),
    )
    op.create_table(
        "tlog_entries",
        # INTEGER on SQLite makes the index the rowid: one b-tree instead of two.
        sa.Column("idx", _INDEX, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "tlog_tiles",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("width", sa.SmallInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("width BETWEEN 1 AND 256", name="tlog_tiles_width"),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.LargeBinary, nullable=False),
        sa.Column("cosigned", sa.LargeBinary, nullable=True),
        # POSIX seconds, as given by the caller's clock.
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
    )
    op.create_index(
        "tlog_checkpoints_published",
        "tlog_checkpoints",
        ["size"],
        postgresql_where=sa.text("cosigned IS NOT NULL"),
        sqlite_where=sa.text("cosigned IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("tlog_checkpoints_published", table_name="tlog_checkpoints")
    op.drop_table("tlog_checkpoints")
    op.drop_table("tlog_tiles")
    op.drop_table("tlog_entries")
    op.drop_table("tlog_state")

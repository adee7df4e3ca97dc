"""The witness's durable memory: the latest cosigned ``(size, root)`` of each log origin.

One SQLite table, one row per origin. An update is a compare-and-swap committed before the
witness replies (c2sp.org/tlog-witness: "checking the old size against the latest checkpoint
and persisting the new checkpoint must be performed atomically"), so two concurrent requests
from the same old size cannot both win, and a rolled-back size is impossible::

    UPDATE witness_state SET size = :new, root = :newroot
     WHERE origin = :origin AND size = :old AND root = :oldroot      -- rowcount must be 1

Sizes are stored as decimal text: tree sizes are uint64 and SQLite integers are signed.
Every call opens its own connection, so one store may be shared by a thread pool.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from detente.errors import ConflictError, StorageError
from detente.witness.policy import WitnessState

__all__ = ["WitnessStateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witness_state (
    origin TEXT PRIMARY KEY NOT NULL,
    size   TEXT NOT NULL,
    root   BLOB NOT NULL
)
"""


class WitnessStateStore:
    """Per-origin ``(size, root)`` in the SQLite file at ``path`` (created when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> _Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open witness state {self.path}: {exc}") from exc
        return _Connection(conn)

    def get(self, origin: str) -> WitnessState | None:
        """The latest cosigned state of ``origin``, or None if it was never cosigned."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT size, root FROM witness_state WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else _row_state(row)

    def origins(self) -> dict[str, WitnessState]:
        """Every origin's latest cosigned state."""
        with self._connect() as conn:
            rows = conn.execute("SELECT origin, size, root FROM witness_state").fetchall()
        return {str(r[0]): _row_state(r[1:]) for r in rows}

    def compare_and_swap(self, origin: str, old: WitnessState | None, new: WitnessState) -> None:
        """Store ``new`` for ``origin`` if its state is still ``old``; durably, or raise.

        :class:`ConflictError` when another writer got there first (the caller re-reads the
        state to tell its client the current size).
        """
        # Closing the connection without COMMIT rolls the transaction back.
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if old is None:
                cur = conn.execute(
                    "INSERT INTO witness_state (origin, size, root) VALUES (?, ?, ?) "
                    "ON CONFLICT (origin) DO NOTHING",
                    (origin, str(new.size), new.root),
                )
            else:
                cur = conn.execute(
                    "UPDATE witness_state SET size = ?, root = ? "
                    "WHERE origin = ? AND size = ? AND root = ?",
                    (str(new.size), new.root, origin, str(old.size), old.root),
                )
            if cur.rowcount != 1:
                raise ConflictError(
                    f"state of {origin!r} changed since it was read "
                    f"(expected size {0 if old is None else old.size})"
                )
            conn.execute("COMMIT")


class _Connection:
    """A sqlite3 connection that closes on exit and maps sqlite errors to StorageError."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> _Connection:
        self._conn.execute("PRAGMA synchronous=FULL")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._conn.close()

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StorageError(f"witness state query failed: {exc}") from exc


def _row_state(row: tuple[object, ...]) -> WitnessState:
    size, root = row
    if not isinstance(size, str) or not size.isdigit() or not isinstance(root, bytes):
        raise StorageError(f"witness state row is corrupt: {row!r}")
    return WitnessState(int(size), root)

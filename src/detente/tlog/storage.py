"""The durable log: entries, hash tiles, checkpoints and the log state in SQL.

SQLite (the embedded default: WAL, ``synchronous=FULL``, foreign keys on, a busy timeout) and
PostgreSQL (psycopg 3, ``postgresql+psycopg://...``) through SQLAlchemy 2 Core. The schema is
created and upgraded by the Alembic migrations in ``detente/tlog/migrations``, run by
:meth:`LogStore.open`.

Tables::

    tlog_entries      idx -> entry bytes
    tlog_tiles        (level, idx) -> width, concatenated hashes. A full tile (width 256) never
                      changes; a partial tile is overwritten as it grows and its prefix never
                      changes, so any narrower width is served by truncation.
    tlog_checkpoints  size -> root, signed note, cosigned note (NULL until published),
                      created_at (POSIX seconds from the caller's clock)
    tlog_state        one row: origin, size, compact-range peaks of the tree [0, size)

Proofs and roots are built from an in-memory cache of expanded hash tiles
(:class:`~detente.tlog.tilecache.TileCache`, ``cache_tiles`` tiles, LRU); a database
connection is checked out (one short read transaction per tile) only when a tile is missing
from it or narrower than needed.
The cache is safe because tile prefixes never change; :meth:`LogStore.read_tile` (what the
tiles server serves) still reads the database.

All writes go through :meth:`LogStore.writer`, a transaction that holds the single-writer
lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``pg_advisory_xact_lock``), so state read in it
is the state the transaction commits on top of.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from detente.errors import MalformedError, NotFoundError, StorageError
from detente.tlog import prover
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from detente.tlog.note import Note
from detente.tlog.proof import NodeID, assemble, consistency_plan
from detente.tlog.tile import ENTRIES_LEVEL, TILE_WIDTH, TileID, format_entry_bundle
from detente.tlog.tilecache import DEFAULT_MAX_TILES, TileCache

__all__ = ["LogState", "LogStore", "LogWriter", "StoredCheckpoint"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock held by the one writer ("dete" "tlog").
_PG_LOCK_KEY = 0x6465_7465_746C_6F67
_IMMEDIATE = "detente_immediate"
_CHECKPOINT_COLUMNS = "size, root, note, cosigned, created_at"


@dataclass(frozen=True, slots=True)
class LogState:
    """The integrated tree: its origin, size and compact-range peaks."""

    origin: str
    size: int
    peaks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.peaks) != self.size.bit_count():
            raise MalformedError(f"a tree of size {self.size} cannot have {len(self.peaks)} peaks")


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint the log signed; ``cosigned`` is the note as published (None: not yet)."""

    size: int
    root: bytes
    note: bytes
    cosigned: bytes | None
    created_at: float

    @property
    def published(self) -> bool:
        return self.cosigned is not None


def _checkpoint(row: Sequence[Any]) -> StoredCheckpoint:
    size, root, note, cosigned, created_at = row
    return StoredCheckpoint(
        int(size),
        bytes(root),
        bytes(note),
        None if cosigned is None else bytes(cosigned),
        float(created_at),
    )


def _split_peaks(size: int, data: bytes) -> tuple[bytes, ...]:
    if len(data) != size.bit_count() * HASH_SIZE:
        raise StorageError(f"stored state of size {size} has {len(data)} bytes of peaks")
    return tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE))


def _engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise MalformedError("an in-memory SQLite database is not durable: give a file URL")
        engine = sa.create_engine(parsed, connect_args={"timeout": 60.0})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver must not open transactions itself: "begin" below does, so a writer
            # can take the lock up front with BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                "busy_timeout=60000",
            ):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(_IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise MalformedError(f"unsupported database URL: {parsed.get_backend_name()}")


class LogWriter:
    """The single-writer transaction: read state, then write entries, tiles, state, checkpoint.

    Obtained only from :meth:`LogStore.writer`; everything commits together or not at all.
    """

    def __init__(self, conn: Connection, placeholder: str) -> None:
        self._conn = conn
        self._ph = placeholder

    def state(self) -> LogState | None:
        row = self._conn.execute(
            sa.text("SELECT origin, size, peaks FROM tlog_state WHERE id = 1")
        ).first()
        if row is None:
            return None
        size = int(row[1])
        return LogState(str(row[0]), size, _split_peaks(size, bytes(row[2])))

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return _latest(self._conn, published=False)

    def tile(self, level: int, index: int) -> bytes:
        """The stored hashes of tile (level, index), b"" when there is none."""
        row = self._conn.execute(
            sa.text("SELECT data FROM tlog_tiles WHERE level = :l AND idx = :i"),
            {"l": level, "i": index},
        ).first()
        return b"" if row is None else bytes(row[0])

    def insert_entries(self, start: int, entries: Sequence[bytes]) -> None:
        ph = self._ph
        self._conn.exec_driver_sql(
            f"INSERT INTO tlog_entries (idx, data) VALUES ({ph}, {ph})",  # noqa: S608
            list(zip(range(start, start + len(entries)), entries, strict=True)),
        )

    def put_tiles(self, tiles: Sequence[tuple[int, int, bytes]]) -> None:
        """Insert or grow hash tiles given as (level, index, concatenated hashes)."""
        if not tiles:
            return
        rows = []
        for level, index, data in tiles:
            width, rest = divmod(len(data), HASH_SIZE)
            if rest or not 1 <= width <= TILE_WIDTH:
                raise MalformedError(f"tile {level}/{index} has {len(data)} bytes")
            rows.append((level, index, width, data))
        ph = self._ph
        self._conn.exec_driver_sql(
            "INSERT INTO tlog_tiles (level, idx, width, data) "  # noqa: S608
            f"VALUES ({ph}, {ph}, {ph}, {ph}) "
            "ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data",
            rows,
        )

    def put_state(self, state: LogState) -> None:
        params = {"o": state.origin, "s": state.size, "p": b"".join(state.peaks)}
        result = self._conn.execute(
            sa.text("UPDATE tlog_state SET origin = :o, size = :s, peaks = :p WHERE id = 1"),
            params,
        )
        if result.rowcount == 0:
            self._conn.execute(
                sa.text("INSERT INTO tlog_state (id, origin, size, peaks) VALUES (1, :o, :s, :p)"),
                params,
            )

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        self._conn.execute(
            sa.text(
                f"INSERT INTO tlog_checkpoints ({_CHECKPOINT_COLUMNS}) "  # noqa: S608
                "VALUES (:size, :root, :note, :cosigned, :created_at)"
            ),
            {
                "size": checkpoint.size,
                "root": checkpoint.root,
                "note": checkpoint.note,
                "cosigned": checkpoint.cosigned,
                "created_at": checkpoint.created_at,
            },
        )


def _latest(conn: Connection, *, published: bool) -> StoredCheckpoint | None:
    where = "WHERE cosigned IS NOT NULL " if published else ""
    row = conn.execute(
        sa.text(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM tlog_checkpoints "  # noqa: S608
            f"{where}ORDER BY size DESC LIMIT 1"
        )
    ).first()
    return None if row is None else _checkpoint(row)


def _read_tile(conn: Connection, tile: TileID) -> bytes:
    if tile.level == ENTRIES_LEVEL:
        return format_entry_bundle(_read_entries(conn, tile.index * TILE_WIDTH, tile.width))
    row = conn.execute(
        sa.text("SELECT width, data FROM tlog_tiles WHERE level = :l AND idx = :i"),
        {"l": tile.level, "i": tile.index},
    ).first()
    if row is None or int(row[0]) < tile.width:
        raise NotFoundError(f"no tile {tile.path()}")
    return bytes(row[1][: tile.width * HASH_SIZE])


def _read_hash_tile(conn: Connection, level: int, index: int, width: int) -> bytes:
    """All the stored hashes of tile (level, index); NotFoundError if not ``width`` wide."""
    row = conn.execute(
        sa.text("SELECT data FROM tlog_tiles WHERE level = :l AND idx = :i"),
        {"l": level, "i": index},
    ).first()
    data = b"" if row is None else bytes(row[0])
    if len(data) < width * HASH_SIZE:
        raise NotFoundError(f"no tile {TileID(level, index, width).path()}")
    return data


def _read_entries(conn: Connection, start: int, count: int) -> list[bytes]:
    if start < 0 or count < 0:
        raise MalformedError(f"bad entry range: start {start}, count {count}")
    rows = conn.execute(
        sa.text("SELECT data FROM tlog_entries WHERE idx >= :a AND idx < :b ORDER BY idx"),
        {"a": start, "b": start + count},
    ).all()
    if len(rows) != count:
        raise NotFoundError(f"entries [{start}, {start + count}) are not all in the log")
    return [bytes(r[0]) for r in rows]


class LogStore:
    """One log in one database. Safe to share between threads; one writer at a time."""

    def __init__(self, engine: Engine, *, cache_tiles: int = DEFAULT_MAX_TILES) -> None:
        """Wrap an engine whose schema is already current; use :meth:`open` instead."""
        self._engine = engine
        self._cache = TileCache(cache_tiles)
        self._postgres = engine.dialect.name == "postgresql"
        self._ph = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    @classmethod
    def open(cls, url: str, *, cache_tiles: int = DEFAULT_MAX_TILES) -> LogStore:
        """Connect to ``url`` and bring its schema to the latest migration.

        ``cache_tiles`` bounds the cache of expanded hash tiles proofs are built from.
        """
        store = cls(_engine(url), cache_tiles=cache_tiles)
        try:
            with store._transaction() as conn:
                config = Config()
                config.set_main_option("script_location", str(_MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except Exception:
            store.close()
            raise
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def tile_cache(self) -> TileCache:
        """The cache of expanded hash tiles that proofs and roots are built from."""
        return self._cache

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                if self._postgres:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn

    @contextlib.contextmanager
    def writer(self) -> Iterator[LogWriter]:
        """The single-writer transaction; commits on normal exit, rolls back on an error."""
        try:
            with self._transaction() as conn:
                yield LogWriter(conn, self._ph)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"log write failed: {exc}") from exc

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One read transaction: a consistent snapshot for several queries."""
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def state(self) -> LogState | None:
        """The integrated tree, or None before the log is created."""
        with self._reading() as conn:
            return LogWriter(conn, self._ph).state()

    def read_tile(self, tile: TileID) -> bytes:
        """A hash tile or entry bundle at ``tile.width``; NotFoundError if not that wide yet."""
        with self._reading() as conn:
            return _read_tile(conn, tile)

    def read_entries(self, start: int, count: int) -> list[bytes]:
        """Entries ``[start, start + count)``; NotFoundError unless all are in the log."""
        with self._reading() as conn:
            return _read_entries(conn, start, count)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest signed checkpoint, published or not."""
        with self._reading() as conn:
            return _latest(conn, published=False)

    def latest_published(self) -> StoredCheckpoint | None:
        """The largest published checkpoint (what ``/checkpoint`` serves)."""
        with self._reading() as conn:
            return _latest(conn, published=True)

    def checkpoint(self, size: int) -> StoredCheckpoint:
        """The checkpoint signed at ``size``; NotFoundError if none was."""
        with self._reading() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT {_CHECKPOINT_COLUMNS} FROM tlog_checkpoints "  # noqa: S608
                    "WHERE size = :s"
                ),
                {"s": size},
            ).first()
        if row is None:
            raise NotFoundError(f"no checkpoint at size {size}")
        return _checkpoint(row)

    def checkpoints(
        self, *, after: int = -1, limit: int = 1000, published_only: bool = False
    ) -> list[StoredCheckpoint]:
        """Checkpoints with size > ``after``, smallest first, at most ``limit`` of them."""
        where = " AND cosigned IS NOT NULL" if published_only else ""
        with self._reading() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {_CHECKPOINT_COLUMNS} FROM tlog_checkpoints "  # noqa: S608
                    f"WHERE size > :a{where} ORDER BY size LIMIT :n"
                ),
                {"a": after, "n": limit},
            ).all()
        return [_checkpoint(r) for r in rows]

    def publish(self, size: int, cosigned_note: bytes) -> None:
        """Mark the checkpoint at ``size`` published as ``cosigned_note``.

        The note must carry the same checkpoint text as the signed one (cosignatures only
        add signature lines): MalformedError otherwise, NotFoundError for an unknown size.
        """
        cosigned = Note.from_bytes(cosigned_note)
        with self.writer() as w:
            row = w._conn.execute(
                sa.text("SELECT note FROM tlog_checkpoints WHERE size = :s"), {"s": size}
            ).first()
            if row is None:
                raise NotFoundError(f"no checkpoint at size {size}")
            if Note.from_bytes(bytes(row[0])).text != cosigned.text:
                raise MalformedError(f"the note to publish is not the checkpoint at size {size}")
            w._conn.execute(
                sa.text("UPDATE tlog_checkpoints SET cosigned = :c WHERE size = :s"),
                {"c": cosigned_note, "s": size},
            )

    def _levels(self, level: int, index: int, width: int) -> tuple[bytes, ...]:
        """The expanded hash tile (level, index), at least ``width`` wide: from the cache, or
        read from the database (a read transaction of its own) and cached."""
        levels = self._cache.get(level, index, width)
        if levels is None:
            with self._reading() as conn:
                data = _read_hash_tile(conn, level, index, width)
            levels = self._cache.put(level, index, data)
        return levels

    def node_hashes(self, ids: Sequence[NodeID], size: int) -> list[bytes]:
        """Hashes of perfect subtrees of the tree of ``size`` leaves, read from the tiles."""
        return prover.expanded_node_hashes(ids, size, self._levels)

    def inclusion_proof(self, index: int, size: int) -> tuple[bytes, ...]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return prover.expanded_inclusion_proof(index, size, self._levels)

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]:
        """RFC 9162 consistency proof from the tree of ``size1`` leaves to ``size2``."""
        plan = consistency_plan(size1, size2)
        if not plan.ids:
            return ()
        return assemble(plan, self.node_hashes(plan.ids, size2))

    def tree_root(self, size: int) -> bytes:
        """Root of the tree of the first ``size`` entries, computed from the tiles."""
        if size == 0:
            return EMPTY_ROOT
        hashes = self.node_hashes(prover.peaks(size), size)
        root = hashes[-1]
        for h in reversed(hashes[:-1]):
            root = node_hash(h, root)
        return root

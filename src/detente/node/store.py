"""The node's own database: verified entries, trusted checkpoints, receipts, state, proofs.

SQLAlchemy Core, SQLite (WAL) by default, PostgreSQL by URL; the tables are created on open
(``create_all``) and all start with ``node_``:

- ``node_entries``: the verified log entries ``[0, size)`` (index, bytes);
- ``node_checkpoints``: every checkpoint the node trusted (size, root, note, first seen);
- ``node_sync``: one row: the verified size, the compact range of the verified tree (its
  peaks), the genesis hash and the log key the node pinned, and the misbehaviour id while
  the hub is distrusted;
- ``node_receipts``: receipts the member holds (index, entry bytes, tlog-proof bytes, the
  size at which the node confirmed them against its own verified log);
- ``node_snapshot``: the group state after ``size`` entries, pickled and authenticated with
  an HMAC under a key derived from the party key (so whoever can write the database cannot
  make the node unpickle anything); when it is missing or stale the state is replayed from
  the verified entries;
- ``node_misbehaviour``: every misbehaviour caught (kind, time, description, proof bytes and
  the path of the proof file);
- ``node_peer_checkpoints``: the latest checkpoint each peer showed (gossip).

:meth:`NodeStore.commit_sync` writes one sync's new entries, the trusted checkpoint, the
compact range and the state snapshot in ONE transaction: a node never holds entries it has
not verified or a state that does not match its entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from detente.errors import MalformedError, StorageError
from detente.group.rules import apply, genesis
from detente.group.sealed import SealedState, seal, unseal
from detente.group.state import GroupState
from detente.tlog.compact import CompactRange
from detente.tlog.hashing import HASH_SIZE

__all__ = [
    "REPLAY_AT",
    "Misbehaviour",
    "NodeStore",
    "StoredReceipt",
    "SyncPoint",
    "TrustedCheckpoint",
]

#: The time stored entries are re-judged at when the state is replayed from the database.
#: They were judged at their checkpoint's time when synced; ``at`` only refuses statements
#: issued in the future, so any later time reaches the same state.
REPLAY_AT = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
_CHUNK = 2048
_META = sa.MetaData()
_ENTRIES = sa.Table(
    "node_entries",
    _META,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
_CHECKPOINTS = sa.Table(
    "node_checkpoints",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary, nullable=False),
    sa.Column("note", sa.LargeBinary, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
)
_SYNC = sa.Table(
    "node_sync",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("peaks", sa.LargeBinary, nullable=False),
    sa.Column("genesis_hash", sa.LargeBinary, nullable=True),
    sa.Column("log_vkey", sa.Text, nullable=True),
    sa.Column("distrusted", sa.Integer, nullable=True),
)
_RECEIPTS = sa.Table(
    "node_receipts",
    _META,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.Column("receipt", sa.LargeBinary, nullable=False),
    sa.Column("confirmed_size", sa.BigInteger, nullable=True),
)
_SNAPSHOT = sa.Table(
    "node_snapshot",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("mac", sa.LargeBinary, nullable=False),
)
_MISBEHAVIOUR = sa.Table(
    "node_misbehaviour",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("proof", sa.LargeBinary, nullable=False),
)
_PEERS = sa.Table(
    "node_peer_checkpoints",
    _META,
    sa.Column("peer", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("note", sa.LargeBinary, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
)
_DOMAIN = b"detente node snapshot v1"


@dataclass(frozen=True, slots=True)
class TrustedCheckpoint:
    """A checkpoint the node verified and trusted; ``seen_at`` is POSIX seconds."""

    size: int
    root: bytes
    note: bytes
    seen_at: float


@dataclass(frozen=True, slots=True)
class SyncPoint:
    """How far the node's verified log goes: ``size`` entries whose tree is ``tree``."""

    size: int
    tree: CompactRange
    genesis_hash: bytes | None
    log_vkey: str | None
    distrusted: int | None  # id of the misbehaviour that made the node stop trusting the hub


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """A receipt the member holds for its entry; ``confirmed_size`` once checked in the log."""

    index: int
    entry: bytes
    receipt: bytes
    confirmed_size: int | None


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """A misbehaviour of the hub the node caught, with its self-contained proof file."""

    id: int
    kind: str
    created: float
    description: str
    path: str
    proof: bytes


def _engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise MalformedError("an in-memory SQLite database is not durable: give a file URL")
        engine = sa.create_engine(parsed, connect_args={"timeout": 60.0})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if backend == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise MalformedError(f"unsupported database URL: {backend}")


def _peaks(size: int, data: bytes) -> CompactRange:
    if len(data) != size.bit_count() * HASH_SIZE:
        raise StorageError(f"stored tree of size {size} has {len(data)} bytes of peaks")
    return CompactRange(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])


class NodeStore:
    """The node's database at ``url``; ``secret`` keys the snapshot HMAC (the party key)."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self._engine = engine
        self._secret = secret
        self._state: GroupState | None = None
        try:
            _META.create_all(engine, checkfirst=True)
            with engine.begin() as conn:
                if conn.execute(sa.select(_SYNC.c.id)).first() is None:
                    conn.execute(_SYNC.insert(), {"id": 1, "size": 0, "peaks": b""})
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot open the node database: {exc}") from exc

    @classmethod
    def open(cls, url: str, secret: bytes) -> NodeStore:
        return cls(_engine(url), secret)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> NodeStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"the node database failed: {exc}") from exc

    # -- the verified log ------------------------------------------------------------------

    def sync_point(self) -> SyncPoint:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_SYNC).where(_SYNC.c.id == 1)).one()
        size = int(row.size)
        return SyncPoint(
            size,
            _peaks(size, bytes(row.peaks)),
            None if row.genesis_hash is None else bytes(row.genesis_hash),
            row.log_vkey,
            row.distrusted,
        )

    def size(self) -> int:
        """The number of verified entries."""
        return self.sync_point().size

    def read_entries(self, start: int, count: int) -> list[bytes]:
        """Verified entries ``[start, start + count)`` (NotFound-free: fewer past the end)."""
        end = min(start + count, self.size())
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(_ENTRIES.c.data)
                .where(_ENTRIES.c.idx >= start, _ENTRIES.c.idx < end)
                .order_by(_ENTRIES.c.idx)
            ).all()
        return [bytes(r[0]) for r in rows]

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The verified entries from ``start`` to ``end`` (default: all), in chunks."""
        stop = self.size() if end is None else min(end, self.size())
        while start < stop:
            chunk = self.read_entries(start, min(_CHUNK, stop - start))
            yield from chunk
            start += len(chunk)

    def pin(self, genesis_hash: bytes, log_vkey: str) -> None:
        """Record the group's genesis hash and the log key (first sync)."""
        with self._begin() as conn:
            conn.execute(
                _SYNC.update()
                .where(_SYNC.c.id == 1)
                .values(genesis_hash=genesis_hash, log_vkey=log_vkey)
            )

    def commit_sync(
        self,
        start: int,
        entries: Sequence[bytes],
        tree: CompactRange,
        checkpoint: TrustedCheckpoint,
        state: GroupState,
        digest: bytes | None = None,
    ) -> None:
        """Store one sync atomically: entries ``[start, tree.size)``, the checkpoint trusted,
        the verified tree and the state after it (``digest``: its digest, if known)."""
        if start + len(entries) != tree.size or state.size != tree.size:
            raise StorageError(
                f"sync of {len(entries)} entries from {start} does not reach tree size "
                f"{tree.size} (state size {state.size})"
            )
        snapshot = self._snapshot_row(state, digest)
        with self._begin() as conn:
            current = conn.execute(sa.select(_SYNC.c.size).where(_SYNC.c.id == 1)).scalar_one()
            if current != start:
                raise StorageError(f"the node holds {current} entries, not {start}: sync raced")
            for offset in range(0, len(entries), _CHUNK):
                conn.execute(
                    _ENTRIES.insert(),
                    [
                        {"idx": start + offset + i, "data": e}
                        for i, e in enumerate(entries[offset : offset + _CHUNK])
                    ],
                )
            self._add_checkpoint(conn, checkpoint)
            conn.execute(
                _SYNC.update()
                .where(_SYNC.c.id == 1)
                .values(size=tree.size, peaks=b"".join(tree.peaks))
            )
            conn.execute(_SNAPSHOT.delete())
            conn.execute(_SNAPSHOT.insert(), snapshot)
        self._state = state

    # -- checkpoints -----------------------------------------------------------------------

    @staticmethod
    def _add_checkpoint(conn: Connection, checkpoint: TrustedCheckpoint) -> None:
        known = conn.execute(
            sa.select(_CHECKPOINTS.c.id).where(
                _CHECKPOINTS.c.size == checkpoint.size, _CHECKPOINTS.c.root == checkpoint.root
            )
        ).first()
        if known is None:
            conn.execute(
                _CHECKPOINTS.insert(),
                {
                    "size": checkpoint.size,
                    "root": checkpoint.root,
                    "note": checkpoint.note,
                    "seen_at": checkpoint.seen_at,
                },
            )

    def add_checkpoint(self, checkpoint: TrustedCheckpoint) -> None:
        """Record a trusted checkpoint (once per size and root)."""
        with self._begin() as conn:
            self._add_checkpoint(conn, checkpoint)

    def checkpoints(self) -> list[TrustedCheckpoint]:
        """Every trusted checkpoint, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id)).all()
        return [
            TrustedCheckpoint(int(r.size), bytes(r.root), bytes(r.note), r.seen_at) for r in rows
        ]

    def latest_checkpoint(self) -> TrustedCheckpoint | None:
        """The trusted checkpoint of the largest size (what gossip shows peers)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(_CHECKPOINTS)
                .order_by(_CHECKPOINTS.c.size.desc(), _CHECKPOINTS.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return TrustedCheckpoint(int(row.size), bytes(row.root), bytes(row.note), row.seen_at)

    # -- receipts --------------------------------------------------------------------------

    def add_receipt(self, index: int, entry: bytes, receipt: bytes) -> None:
        """Keep the receipt (tlog-proof bytes) of the member's ``entry`` at ``index``.

        The caller verified it (``verify_receipt``); every later sync checks the log still
        holds ``entry`` at ``index`` under a checkpoint consistent with the receipt's.
        """
        with self._begin() as conn:
            conn.execute(_RECEIPTS.delete().where(_RECEIPTS.c.idx == index))
            conn.execute(
                _RECEIPTS.insert(),
                {"idx": index, "entry": entry, "receipt": receipt, "confirmed_size": None},
            )

    def receipts(self, *, unconfirmed_only: bool = False) -> list[StoredReceipt]:
        query = sa.select(_RECEIPTS).order_by(_RECEIPTS.c.idx)
        if unconfirmed_only:
            query = query.where(_RECEIPTS.c.confirmed_size.is_(None))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredReceipt(int(r.idx), bytes(r.entry), bytes(r.receipt), r.confirmed_size)
            for r in rows
        ]

    def confirm_receipt(self, index: int, size: int) -> None:
        with self._begin() as conn:
            conn.execute(
                _RECEIPTS.update().where(_RECEIPTS.c.idx == index).values(confirmed_size=size)
            )

    # -- the group state -------------------------------------------------------------------

    def _snapshot_row(self, state: GroupState, digest: bytes | None) -> dict[str, Any]:
        return seal(state, self._secret, _DOMAIN, digest).row()

    def _load_snapshot(self) -> GroupState | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_SNAPSHOT)).first()
        if row is None:
            return None
        sealed = SealedState.from_row(row.size, row.digest, row.data, row.mac)
        return unseal(sealed, self._secret, _DOMAIN)

    def state(self) -> GroupState | None:
        """The group state after the verified entries (None before the first sync)."""
        size = self.size()
        if self._state is not None and self._state.size == size:
            return self._state
        state = self._load_snapshot()
        if state is None or state.size > size:
            state = None
        for entry in self.iter_entries(0 if state is None else state.size):
            state = genesis(entry) if state is None else apply(state, entry, at=REPLAY_AT)
        self._state = state
        return state

    # -- misbehaviour ----------------------------------------------------------------------

    def add_misbehaviour(
        self, kind: str, created: float, description: str, path: str, proof: bytes
    ) -> Misbehaviour:
        """Record a misbehaviour and stop trusting the hub until :meth:`clear_distrust`."""
        with self._begin() as conn:
            result = conn.execute(
                _MISBEHAVIOUR.insert(),
                {
                    "kind": kind,
                    "created": created,
                    "description": description,
                    "path": path,
                    "proof": proof,
                },
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover - every backend returns the new id
                raise StorageError("the misbehaviour row got no id")
            ident = int(key[0])
            conn.execute(_SYNC.update().where(_SYNC.c.id == 1).values(distrusted=ident))
        return Misbehaviour(ident, kind, created, description, path, proof)

    def misbehaviours(self) -> list[Misbehaviour]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_MISBEHAVIOUR).order_by(_MISBEHAVIOUR.c.id)).all()
        return [
            Misbehaviour(int(r.id), r.kind, r.created, r.description, r.path, bytes(r.proof))
            for r in rows
        ]

    def distrusted(self) -> Misbehaviour | None:
        """The misbehaviour that made the node stop trusting the hub, or None."""
        ident = self.sync_point().distrusted
        if ident is None:
            return None
        return next((m for m in self.misbehaviours() if m.id == ident), None)

    def clear_distrust(self) -> None:
        """The operator trusts the hub again (the proofs stay)."""
        with self._begin() as conn:
            conn.execute(_SYNC.update().where(_SYNC.c.id == 1).values(distrusted=None))

    # -- gossip ----------------------------------------------------------------------------

    def add_peer_checkpoint(self, peer: str, size: int, note: bytes, seen_at: float) -> None:
        with self._begin() as conn:
            conn.execute(_PEERS.delete().where(_PEERS.c.peer == peer))
            conn.execute(
                _PEERS.insert(), {"peer": peer, "size": size, "note": note, "seen_at": seen_at}
            )

    def peer_checkpoints(self) -> list[tuple[str, bytes]]:
        """(peer URL, note) of the latest checkpoint each peer showed."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_PEERS.c.peer, _PEERS.c.note)).all()
        return [(r.peer, bytes(r.note)) for r in rows]

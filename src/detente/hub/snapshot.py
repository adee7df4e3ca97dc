"""The hub's stored snapshot of the group state, so a restart need not replay the whole log.

One row in the log's own database (table ``hub_snapshot``): the log size the state was taken
at, the state's digest, and the state itself. The state is serialised with :mod:`pickle`,
which must never load bytes an attacker chose, so each snapshot carries an HMAC-SHA256 under a
key derived from the log's private key (kept in the data directory, not in the database):
whoever can write the database but not read the key cannot make the hub load anything. After
loading, the digest is recomputed and compared as well. A snapshot that fails either check is
ignored and the state is replayed from genesis (``detente hub rebuild`` does that on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from detente.errors import StorageError
from detente.group.sealed import SealedState, seal, unseal
from detente.group.state import GroupState

__all__ = ["Snapshot", "SnapshotStore"]

_META = sa.MetaData()
_TABLE = sa.Table(
    "hub_snapshot",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("mac", sa.LargeBinary, nullable=False),
)
_DOMAIN = b"detente hub snapshot v1"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The group state after the first ``size`` log entries, and its digest."""

    size: int
    digest: bytes
    state: GroupState


class SnapshotStore:
    """Snapshots kept in ``engine`` (the log's database), authenticated with ``secret``."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self._engine = engine
        self._secret = secret
        try:
            _META.create_all(engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot create the snapshot table: {exc}") from exc

    def save(self, state: GroupState) -> Snapshot:
        """Store ``state`` (taken after ``state.size`` entries), replacing the previous one."""
        sealed = seal(state, self._secret, _DOMAIN)
        digest = sealed.digest
        try:
            with self._engine.begin() as conn:
                conn.execute(_TABLE.delete())
                conn.execute(_TABLE.insert(), sealed.row())
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"storing the state snapshot failed: {exc}") from exc
        return Snapshot(state.size, digest, state)

    def stored(self) -> tuple[int, bytes] | None:
        """The size and digest of the stored snapshot, without loading it."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_TABLE.c.size, _TABLE.c.digest)).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def load(self) -> Snapshot | None:
        """The stored snapshot, or None when there is none or it does not authenticate."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(_TABLE.c.size, _TABLE.c.digest, _TABLE.c.data, _TABLE.c.mac)
            ).first()
        if row is None:
            return None
        sealed = SealedState.from_row(*row)
        state = unseal(sealed, self._secret, _DOMAIN)
        return None if state is None else Snapshot(sealed.size, sealed.digest, state)

    def clear(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(_TABLE.delete())

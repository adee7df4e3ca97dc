"""The node's opened sealed statements: fetched from the hub, decrypted, checked, kept locally.

After each sync the node looks at every sealed statement addressed to its party (the group
state's markings name the readers) that it has not opened yet: it fetches the ciphertext from
the hub (SHA-256 and size checked), decrypts it with every age identity the node ever had and
checks it with ``detente.statements.sealing.open_sealed``. The result is one row of the table
``node_opened`` in the node's own database (never on the hub):

- ``opened``: the canonical plaintext of the whole body;
- ``unavailable``: the hub did not serve the ciphertext (or served bytes that do not verify);
  tried again at the next sync;
- ``invalid``: the ciphertext does not decrypt with the node's keys, or the plaintext is not
  the body the log committed to (a readable field differs, not canonical, ...). That is the
  AUTHOR's misbehaviour, not the hub's: the reason is kept and shown loudly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from detente.crypto.age import Identity
from detente.errors import DetenteError, MalformedError, VerificationError
from detente.group.state import GroupState
from detente.node.confidential import MAX_SEALED_SIZE, decrypt
from detente.statements.kinds import BODY_TYPES, Body, SealableBody, Sealed
from detente.statements.payload import Statement, open_entry
from detente.statements.sealing import open_sealed

__all__ = ["OpenStatus", "Opened", "Vault", "VaultReport"]

_META = sa.MetaData()
_OPENED = sa.Table(
    "node_opened",
    _META,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("plaintext", sa.LargeBinary, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)


class OpenStatus(StrEnum):
    OPENED = "opened"
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Opened:
    """One row of ``node_opened``."""

    index: int
    kind: str
    status: OpenStatus
    detail: str
    plaintext: bytes | None

    def body(self) -> Body | None:
        """The whole (unsealed) body, when opened."""
        if self.status is not OpenStatus.OPENED or self.plaintext is None:
            return None
        return BODY_TYPES[self.kind].model_validate_json(self.plaintext, strict=True)


@dataclass
class VaultReport:
    """What one pass opened: entry indices by outcome (invalid ones with the reason)."""

    opened: list[int] = field(default_factory=list)
    unavailable: list[int] = field(default_factory=list)
    invalid: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "opened": self.opened,
            "unavailable": self.unavailable,
            "invalid": {str(i): reason for i, reason in self.invalid.items()},
        }


#: Fetch the ciphertext a sealed body names (checked against its hash and size).
Fetch = Callable[[Sealed], bytes]


class Vault:
    """The ``node_opened`` table of a node's database (``engine``: the node store's)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        _META.create_all(engine, checkfirst=True)

    def get(self, index: int) -> Opened | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_OPENED).where(_OPENED.c.idx == index)).first()
        return None if row is None else _row(row)

    def all(self) -> list[Opened]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_OPENED).order_by(_OPENED.c.idx)).all()
        return [_row(r) for r in rows]

    def opened(self, index: int) -> Body | None:
        """The whole body of sealed entry ``index``, if this node opened it."""
        found = self.get(index)
        return None if found is None else found.body()

    def revealed(self) -> dict[int, Body]:
        """Every opened body, by entry index."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(_OPENED)
                .where(_OPENED.c.status == OpenStatus.OPENED.value)
                .order_by(_OPENED.c.idx)
            ).all()
        out: dict[int, Body] = {}
        for row in rows:
            body = _row(row).body()
            if body is not None:
                out[int(row.idx)] = body
        return out

    def update(
        self,
        state: GroupState,
        party: str,
        read_entry: Callable[[int], bytes],
        fetch: Fetch,
        identities: Sequence[Identity],
    ) -> VaultReport:
        """Open every sealed statement to ``party`` in ``state`` not opened (or refused) yet."""
        report = VaultReport()
        if not identities:
            return report
        settled = self._settled()
        for index, marking in sorted(state.markings.items()):
            if index in settled or marking.readers is None or party not in marking.readers:
                continue
            statement = open_entry(read_entry(index)).statement
            body = statement.body
            if not isinstance(body, SealableBody) or body.sealed is None:
                continue
            status, detail, data = _open(statement, body, body.sealed, fetch, identities)
            self._put(index, statement.kind, status, detail, data)
            if status is OpenStatus.OPENED:
                report.opened.append(index)
            elif status is OpenStatus.UNAVAILABLE:
                report.unavailable.append(index)
            else:
                report.invalid[index] = detail
        return report

    def _settled(self) -> set[int]:
        done = (OpenStatus.OPENED.value, OpenStatus.INVALID.value)
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_OPENED.c.idx).where(_OPENED.c.status.in_(done)))
            return {int(r.idx) for r in rows}

    def _put(
        self, index: int, kind: str, status: OpenStatus, detail: str, data: bytes | None
    ) -> None:
        values = {
            "kind": kind,
            "plaintext": data,
            "status": status.value,
            "detail": detail,
            "updated": self._clock(),
        }
        with self._engine.begin() as conn:
            changed = conn.execute(_OPENED.update().where(_OPENED.c.idx == index).values(values))
            if changed.rowcount == 0:
                conn.execute(_OPENED.insert().values(idx=index, **values))


def _open(
    statement: Statement,
    public: SealableBody,
    sealed: Sealed,
    fetch: Fetch,
    identities: Sequence[Identity],
) -> tuple[OpenStatus, str, bytes | None]:
    author = statement.author
    if sealed.size > MAX_SEALED_SIZE:
        return OpenStatus.INVALID, f"{author} sealed {sealed.size} bytes, over the limit", None
    try:
        ciphertext = fetch(sealed)
    except DetenteError as exc:
        return OpenStatus.UNAVAILABLE, f"the hub did not serve the ciphertext: {exc}", None
    try:
        data = decrypt(ciphertext, identities)
    except (MalformedError, VerificationError) as exc:
        return (
            OpenStatus.INVALID,
            f"{author}'s ciphertext does not open with this node's keys: {exc}",
            None,
        )
    try:
        open_sealed(public, data)
    except (MalformedError, VerificationError) as exc:
        return OpenStatus.INVALID, f"{author} sealed something other than the log says: {exc}", None
    return OpenStatus.OPENED, "", data


def _row(row: sa.Row[tuple[object, ...]]) -> Opened:
    return Opened(
        index=int(row.idx),
        kind=str(row.kind),
        status=OpenStatus(row.status),
        detail=str(row.detail),
        plaintext=None if row.plaintext is None else bytes(row.plaintext),
    )

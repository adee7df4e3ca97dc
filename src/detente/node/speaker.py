"""Speaking for the member: compose, sign, submit, and keep the receipt of every statement.

A :class:`Speaker` turns a body model into a log entry of the member's own chain::

    said = speaker.say("incident.respond", IncidentRespond(incident=..., ...))
    said.index, said.receipt          # where it is in the log, and the offline proof

- ``seq`` and ``prev`` come from the node's VERIFIED view of the member's chain (the group
  state the node re-applied itself), extended by statements this speaker submitted that the
  view does not hold yet (pending), so two statements in a row need no sync in between.
- The entry is submitted with ``POST /v1/statements?wait=receipt``. The receipt is checked
  offline against the log key, the witnesses and the quorum named by the genesis (never
  against anything the hub says at submission time) and handed to the node's store.
- A refusal by the hub becomes a :class:`RejectedError` carrying the problem detail's
  ``rule``, with its title and detail in the message; a receipt that does not verify is a
  :class:`VerificationError` (the hub logged something it cannot prove: the node's syncer
  judges that as misbehaviour).

``pings_to_ack`` and :meth:`Speaker.ack_pings` answer pings addressed to the member with
``ping.ack`` (the node runs it after each sync when auto-ack is on).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from detente.errors import (
    DetenteError,
    MalformedError,
    NotFoundError,
    RejectedError,
    StorageError,
)
from detente.group.state import GroupState
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import BODY_TYPES, Body, Pap, PingAck, Tlp
from detente.statements.payload import (
    GENESIS_KIND,
    SignedStatement,
    Statement,
    entry_hash,
    make_entry,
    open_entry,
)
from detente.tlog.checkpoint import SignedCheckpoint
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt

__all__ = [
    "ReceiptKeeper",
    "Said",
    "Speaker",
    "body_from_json",
    "new_id",
    "pings_to_ack",
    "refusal",
    "verify_member_receipt",
]

#: Kinds a member never says through its node (the genesis is signed by every founder).
_NOT_SPOKEN = frozenset({GENESIS_KIND})


class ReceiptKeeper(Protocol):
    """Where the speaker keeps what it said: the node's store."""

    def __call__(self, index: int, receipt: bytes, entry: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Said:
    """A statement the hub accepted: its index, entry and, once published, its receipt."""

    index: int
    signed: SignedStatement
    receipt: Receipt | None  # None: durable at the hub, not yet under a cosigned checkpoint
    checkpoint: SignedCheckpoint | None  # what the receipt verified against

    @property
    def entry(self) -> bytes:
        return self.signed.entry

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.signed.statement.kind,
            "seq": self.signed.statement.seq,
            "entry_hash": entry_hash(self.entry).hex(),
            "receipt": None if self.receipt is None else self.receipt.to_bytes().decode(),
            "tree_size": None if self.checkpoint is None else self.checkpoint.checkpoint.size,
        }


@dataclass(frozen=True, slots=True)
class _Pending:
    seq: int
    entry_hash: bytes
    issued_at: dt.datetime
    index: int


def body_from_json(kind: str, body: object) -> Body:
    """The body model of ``kind`` from its JSON value (the wire form: hex hashes, RFC 3339)."""
    body_type = BODY_TYPES.get(kind)
    if body_type is None or kind in _NOT_SPOKEN:
        spoken = ", ".join(k for k in BODY_TYPES if k not in _NOT_SPOKEN)
        raise MalformedError(f"a node cannot say {kind!r}; it says one of: {spoken}")
    try:
        return body_type.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:3]
        )
        raise MalformedError(f"invalid body for {kind}: {shown}") from exc


def new_id(prefix: str, at: dt.datetime) -> str:
    """A fresh slug such as ``ping-20261127-210000-3f9a`` (time plus 16 random bits)."""
    return f"{prefix}-{at:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def verify_member_receipt(state: GroupState, receipt: Receipt, entry: bytes) -> SignedCheckpoint:
    """Check ``receipt`` for ``entry`` offline with the log key and witnesses of the genesis."""
    witnesses = [parse_vkey(w.vkey) for w in state.witnesses]
    return verify_receipt(
        receipt, entry, parse_vkey(state.log_vkey), witnesses, state.witness_quorum
    )


def pings_to_ack(state: GroupState, party: str) -> tuple[str, ...]:
    """Ids of the pings addressed to ``party`` it has not acked, oldest first."""
    found = (p for p in state.pings.values() if party in p.to and party not in p.acks)
    return tuple(p.id for p in sorted(found, key=lambda p: p.index))


class Speaker:
    """Composes, signs and submits the member's statements (see the module docstring).

    ``view`` returns the node's verified group state; ``keep`` stores a verified receipt;
    ``clock`` gives POSIX seconds. ``hub`` is an httpx client whose base URL is the hub.
    """

    def __init__(
        self,
        *,
        party: str,
        key: Ed25519PrivateKey,
        hub: httpx.Client,
        view: Callable[[], GroupState],
        keep: ReceiptKeeper | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.party = party
        self._key = key
        self._hub = hub
        self._view = view
        self._keep = keep
        self._clock = clock
        self._pending: list[_Pending] = []
        self._acked: set[str] = set()  # pings this speaker acked, until the view shows it

    # -- composing --------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self._clock()), dt.UTC)

    def compose(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp = Tlp.GREEN,
        pap: Pap | None = None,
        state: GroupState | None = None,
    ) -> Statement:
        """The member's next statement of ``kind`` (unsigned): seq, prev and time filled in."""
        if kind in _NOT_SPOKEN or kind not in BODY_TYPES:
            raise MalformedError(f"a node cannot say {kind!r}")
        state = self._view() if state is None else state
        if not state.is_member(self.party):
            raise RejectedError("unknown-author", f"{self.party} is not a member of {state.name}")
        seq, last_hash, last_time = self._head(state)
        issued = self.now()
        if last_time is not None and issued < last_time:
            issued = last_time  # never before the previous statement of the chain
        return Statement(
            kind=kind,
            group=state.name,
            author=self.party,
            seq=seq + 1,
            prev=None if seq == 0 else last_hash,
            issued_at=issued,
            tlp=tlp,
            pap=pap,
            body=body,
        )

    def sign(self, statement: Statement) -> SignedStatement:
        return make_entry(statement, [self._key])

    def _head(self, state: GroupState) -> tuple[int, bytes | None, dt.datetime | None]:
        head = state.heads.get(self.party)
        seq, digest, issued = (
            (0, None, None)
            if head is None
            else (
                head.seq,
                head.entry_hash,
                head.issued_at,
            )
        )
        # What the verified view holds is settled; pending beyond it extends the chain.
        self._pending = [p for p in self._pending if p.seq > seq]
        if self._pending:
            last = self._pending[-1]
            return last.seq, last.entry_hash, last.issued_at
        return seq, digest, issued

    # -- submitting -------------------------------------------------------------------------

    def say(self, kind: str, body: Body, *, tlp: Tlp = Tlp.GREEN, pap: Pap | None = None) -> Said:
        """Compose, sign and submit; the receipt is verified and kept before this returns."""
        state = self._view()
        return self.submit(self.sign(self.compose(kind, body, tlp=tlp, pap=pap, state=state)))

    def submit(self, signed: SignedStatement, *, state: GroupState | None = None) -> Said:
        """Submit a signed statement of the member; verify and keep its receipt."""
        state = self._view() if state is None else state
        try:
            answer = self._hub.post(
                "/v1/statements",
                params={"wait": "receipt"},
                content=signed.entry,
                headers={"Content-Type": PAYLOAD_TYPE},
            )
        except httpx.HTTPError as exc:
            raise DetenteError(f"cannot reach the hub at {self._hub.base_url}: {exc}") from exc
        if answer.status_code not in (201, 202):
            raise refusal(answer)
        data = _json_object(answer)
        index = data.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 1:
            raise MalformedError(f"the hub answered an index that is no entry index: {index!r}")
        statement = signed.statement
        self._pending.append(
            _Pending(statement.seq, entry_hash(signed.entry), statement.issued_at, index)
        )
        text = data.get("receipt")
        if not isinstance(text, str):
            return Said(index, signed, None, None)
        receipt, checkpoint = self._check_receipt(state, index, text.encode(), signed.entry)
        return Said(index, signed, receipt, checkpoint)

    def fetch_receipt(self, index: int, entry: bytes) -> Said | None:
        """Ask the hub for the receipt of an entry accepted without one (None: not yet)."""
        answer = self._hub.get(f"/v1/receipts/{index}")
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise refusal(answer)
        state = self._view()
        receipt, checkpoint = self._check_receipt(state, index, answer.content, entry)
        return Said(index, open_entry(entry), receipt, checkpoint)

    def _check_receipt(
        self, state: GroupState, index: int, data: bytes, entry: bytes
    ) -> tuple[Receipt, SignedCheckpoint]:
        receipt = Receipt.from_bytes(data)
        if receipt.index != index:
            raise MalformedError(f"the hub gave a receipt for index {receipt.index}, not {index}")
        checkpoint = verify_member_receipt(state, receipt, entry)
        if self._keep is not None:
            self._keep(index, receipt.to_bytes(), entry)
        return receipt, checkpoint

    # -- automatic answers ------------------------------------------------------------------

    def ack_pings(self, state: GroupState | None = None) -> list[Said]:
        """Answer every ping addressed to the member that it has not acked (``ping.ack``)."""
        state = self._view() if state is None else state
        if not state.is_member(self.party):
            return []
        done: list[Said] = []
        for ping in pings_to_ack(state, self.party):
            if ping in self._acked:
                continue
            signed = self.sign(self.compose("ping.ack", PingAck(ping=ping), state=state))
            done.append(self.submit(signed, state=state))
            self._acked.add(ping)
        return done


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError as exc:
        raise MalformedError(f"the hub answered {answer.status_code} without JSON") from exc
    if not isinstance(data, dict):
        raise MalformedError("the hub's answer is not a JSON object")
    return data


def refusal(answer: httpx.Response) -> DetenteError:
    """The error for a hub's RFC 9457 answer: its title, detail and ``rule`` in words."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"title": answer.reason_phrase, "detail": answer.text[:500]}
    title = str(problem.get("title") or answer.reason_phrase)
    detail = str(problem.get("detail") or "").strip()
    rule = problem.get("rule")
    message = f"the hub refused the statement: {title} ({answer.status_code})"
    if isinstance(rule, str) and rule:
        suffix = f" [{rule}]"
        detail = detail[: -len(suffix)] if detail.endswith(suffix) else detail
        return RejectedError(rule, f"{message}: {detail}" if detail else message)
    text = f"{message}: {detail}" if detail else message
    if answer.status_code == 404:
        return NotFoundError(text)
    if answer.status_code in (400, 413, 415):
        return MalformedError(text)
    if answer.status_code >= 500:
        return StorageError(text)
    return DetenteError(text)

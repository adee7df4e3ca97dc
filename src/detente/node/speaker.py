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

Confidential statements (``docs/design/CONFIDENTIALITY.md``): when the marking is TLP:AMBER,
AMBER+STRICT or RED, or recipients are named, ``say`` seals the body: it is encrypted (age)
to the current key of the author, of every party it addresses and of the named recipients
(``detente.node.confidential``); the statement is composed with the public body, signed, and
the group rules are DRY-RUN on the node's verified state, so a statement the rules refuse
uploads and stores nothing; only then is the ciphertext uploaded and the statement submitted.
The speaker keeps no copy of what it sealed: the author is a recipient, so the node's read
path (``detente.node.vault``) opens it from the hub like any other recipient.
``reshare`` re-shares an ``intel.share`` under the original's marking (checked before
anything is decrypted, encrypted or uploaded); ``rotate_keys`` says ``party.rotate-keys``
signed by the current and the new key and then signs with the new one.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from detente.crypto.age import Identity, Recipient
from detente.crypto.blob import BlobRef
from detente.errors import (
    DetenteError,
    MalformedError,
    NotFoundError,
    RejectedError,
    StorageError,
)
from detente.group import marking
from detente.group.rules import apply
from detente.group.state import GroupState
from detente.node.blobs import BlobClient, open_blob, seal_file
from detente.node.confidential import recipients_for, seal_body, upload_bytes
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import (
    BODY_TYPES,
    Body,
    IntelShare,
    Pap,
    PartyRotateKeys,
    PingAck,
    SealableBody,
    Tlp,
)
from detente.statements.payload import (
    GENESIS_KIND,
    SignedStatement,
    Statement,
    entry_hash,
    make_entry,
    open_entry,
)
from detente.statements.sealing import CONFIDENTIAL_TLP
from detente.tlog.checkpoint import SignedCheckpoint
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt

__all__ = [
    "Reader",
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


class Reader(Protocol):
    """What re-sharing needs of the node: its log, its opened bodies and its identities."""

    def logged(self, index: int) -> Statement: ...

    def opened(self, index: int) -> Body | None: ...

    def identities(self) -> list[Identity]: ...


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
        blobs: BlobClient | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.party = party
        self._key = key
        self._hub = hub
        self._view = view
        self._keep = keep
        self._clock = clock
        self._blobs = blobs
        self._reader = reader
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

    @property
    def key(self) -> Ed25519PrivateKey:
        """The member's current signing key."""
        return self._key

    def use_key(self, key: Ed25519PrivateKey) -> None:
        """Sign with ``key`` from now on (after a key rotation the group accepted)."""
        self._key = key

    def say(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp = Tlp.GREEN,
        pap: Pap | None = None,
        recipients: Sequence[str] | None = None,
    ) -> Said:
        """Compose, sign and submit; the receipt is verified and kept before this returns.

        A TLP:AMBER, AMBER+STRICT or RED body, or one with ``recipients``, is sealed first
        (see the module docstring); nothing is uploaded or sent if the rules refuse it.
        """
        state = self._view()
        signed, ciphertext = self.prepare(
            kind, body, tlp=tlp, pap=pap, recipients=recipients, state=state
        )
        if ciphertext is not None:
            self._dry_run(state, signed)
            upload_bytes(self._blob_client(), ciphertext)
        return self.submit(signed, state=state)

    def check(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp = Tlp.GREEN,
        pap: Pap | None = None,
        recipients: Sequence[str] | None = None,
    ) -> None:
        """Refuse (``RejectedError``) what ``say`` would refuse before sending anything: the
        statement is prepared (sealed in memory if it would be) and the group rules are run
        on the node's verified state. Nothing is uploaded or sent."""
        state = self._view()
        signed, _ = self.prepare(kind, body, tlp=tlp, pap=pap, recipients=recipients, state=state)
        self._dry_run(state, signed)

    def prepare(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp = Tlp.GREEN,
        pap: Pap | None = None,
        recipients: Sequence[str] | None = None,
        state: GroupState | None = None,
    ) -> tuple[SignedStatement, bytes | None]:
        """The signed statement ``say`` would submit, and the ciphertext it would upload
        first (None: not sealed). Nothing is sent."""
        state = self._view() if state is None else state
        ciphertext = None
        if tlp in CONFIDENTIAL_TLP or recipients:
            if not isinstance(body, SealableBody):
                raise RejectedError(
                    "not-encrypted",
                    f"a {kind} is read by the group rules, so it cannot be encrypted"
                    + (f" and cannot be TLP:{tlp.value}" if tlp in CONFIDENTIAL_TLP else "")
                    + "; mark it TLP:CLEAR or TLP:GREEN",
                )
            if body.sealed is None:
                readers = recipients_for(state, self.party, body, recipients or ())
                sealing = seal_body(state, body, readers)
                body, ciphertext = sealing.public, sealing.ciphertext
        return self.sign(self.compose(kind, body, tlp=tlp, pap=pap, state=state)), ciphertext

    def _dry_run(self, state: GroupState, signed: SignedStatement) -> None:
        """Refuse, before anything is uploaded or sent, what the group rules would refuse."""
        head = state.heads.get(self.party)
        settled = signed.statement.seq == (0 if head is None else head.seq) + 1
        try:
            if settled:
                apply(state, signed.entry, at=self.now())
            else:  # statements still pending at the hub: judge the marking alone
                marking.judge(state, signed.statement)
        except RejectedError as exc:
            raise RejectedError(
                exc.rule, f"this node refuses the statement (nothing was sent): {exc.message}"
            ) from exc

    def _blob_client(self) -> BlobClient:
        if self._blobs is None:
            raise MalformedError("this speaker cannot upload sealed content (no blob client)")
        return self._blobs

    # -- re-sharing and keys ----------------------------------------------------------------

    def reshare(self, index: int, to: Sequence[str], tlp: Tlp, pap: Pap | None = None) -> Said:
        """Re-share the ``intel.share`` at entry ``index`` with ``to`` (empty: the group).

        The original's marking is checked first (``not-a-recipient``, ``tlp-lowered``,
        ``reshare-excluded``): a refused re-share decrypts, encrypts and uploads nothing.
        Then the STIX bundle is decrypted, encrypted to the new readers, uploaded, and a new
        ``intel.share`` with ``derived_from=index`` is said (sealed when ``tlp`` requires).
        """
        if self._reader is None:
            raise MalformedError("this speaker cannot re-share (no reader of the node's log)")
        state = self._view()
        original = state.markings.get(index)
        if original is None:
            raise RejectedError(
                "unknown-original", f"entry {index} is not a statement whose content can be shared"
            )
        logged = self._reader.logged(index)
        if logged.kind != "intel.share":
            raise MalformedError(
                f"only intel.share can be re-shared; entry {index} is a {logged.kind}"
            )
        addressed = tuple(sorted(set(to) - {self.party}))
        readers = tuple(sorted({self.party, *addressed})) if addressed else None
        try:
            marking.check_reshare(original, self.party, tlp, readers)
        except RejectedError as exc:
            raise RejectedError(
                exc.rule, f"this node refuses the re-share (nothing was sent): {exc.message}"
            ) from exc
        body: Body | None = logged.body
        if isinstance(body, IntelShare) and body.sealed is not None:
            body = self._reader.opened(index)
            if body is None:
                raise NotFoundError(f"entry {index} is sealed and this node has not opened it")
        if not isinstance(body, IntelShare):  # pragma: no cover - the kind was checked
            raise MalformedError(f"entry {index} is not an intel.share")
        ref = self._reencrypt(state, body, readers)
        share = IntelShare(
            blob=ref.sha256,
            size=ref.size,
            media_type=body.media_type,
            title=body.title,
            to=addressed,
            derived_from=index,
        )
        return self.say("intel.share", share, tlp=tlp, pap=pap)

    def _reencrypt(
        self, state: GroupState, body: IntelShare, readers: tuple[str, ...] | None
    ) -> BlobRef:
        """Fetch the STIX bundle of ``body``, encrypt it to ``readers`` (None: every member)."""
        assert self._reader is not None
        client = self._blob_client()
        parties = readers or tuple(sorted(p for p in state.parties if state.is_member(p)))
        keys = [Recipient(state.parties[p].encryption_key) for p in parties]
        with tempfile.TemporaryDirectory(prefix="detente-reshare-") as work:
            folder = Path(work)
            client.download(BlobRef(body.blob, body.size), folder / "original.age")
            open_blob(folder / "original.age", folder / "bundle", self._reader.identities())
            sealed = seal_file(folder / "bundle", folder / "reshared.age", keys)
            (folder / "bundle").unlink()
            return client.upload(folder / "reshared.age", sealed.ref)

    def rotate_keys(self, new_key: Ed25519PrivateKey, encryption_key: Recipient) -> Said:
        """Say ``party.rotate-keys`` (signed by the current and the new key); once the hub
        accepted it, sign with ``new_key``."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        state = self._view()
        body = PartyRotateKeys(
            signing_key=new_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            encryption_key=str(encryption_key),
        )
        statement = self.compose("party.rotate-keys", body, state=state)
        signed = make_entry(statement, [self._key, new_key])
        said = self.submit(signed, state=state)
        self._key = new_key
        return said

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

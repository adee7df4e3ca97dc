"""Self-contained proofs that a hub misbehaved, and their pure offline checker.

A proof file is JSON; every kind carries the group's genesis entry, so the checker learns
the log's verifier key, origin and witnesses from a statement every founder signed (and a
caller may pin the log key it knows). Nothing else is taken on trust::

    {"type": "detente/misbehaviour/v1", "kind": KIND, "description": "...",
     "created": "2026-...Z", "hub": "http://...", "genesis": "<base64 entry 0>",
     "evidence": {...}}

Kinds and their evidence (hashes and entries are base64):

``split-view``
    ``first``, ``second`` (two signed checkpoint notes) and ``proof``, exactly as
    :mod:`detente.tlog.evidence`: the log signed two checkpoints that cannot both be true
    (two roots for one size, or a larger tree whose prefix is not the smaller one).
``dropped-entry``
    ``receipt`` (a c2sp.org/tlog-proof text the hub gave the author), ``entry`` (the
    author's entry), and ``second`` + ``proof``: a later checkpoint the log signed that is
    not consistent with the receipt's checkpoint. The entry the hub promised to keep at its
    index is gone or different.
``bad-entry``
    ``entries`` (entries 0..i of the log), ``checkpoint`` (a note the log signed of size N >
    i) and ``proof`` (the consistency proof from i + 1 to N; empty when N = i + 1), and
    ``judged_at`` (the node's own time: a record only). The entries are the log's first
    i + 1 leaves; 0..i-1 apply under the group rules, entry i does not (forged signature,
    broken author chain, broken rule): the hub logged a statement it must have refused. The
    checkpoint must carry the group's witness quorum; entry i is judged at its latest
    witnessed time, or, in a group without witnesses, at the end of time (so that only rules
    independent of time can convict: the accuser's clock is no evidence).
``bad-answer``
    ``data``: what the hub served that failed a check but carries no signature of the log
    (a tile that does not hash to the root, bytes that are not the entry the tiles commit
    to). The node keeps it as a record; it convinces nobody but the node itself, and the
    checker says so (``attributable`` False).

:func:`check_misbehaviour` returns a :class:`Finding` or raises ``MalformedError`` (the file
does not parse) or ``VerificationError`` (it parses but shows no misbehaviour). Pure: no file,
socket, database or clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detente.errors import (
    DetenteError,
    MalformedError,
    RootMismatchError,
    SplitViewError,
    VerificationError,
)
from detente.group.rules import apply, genesis
from detente.group.state import GroupState
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.compact import CompactRange
from detente.tlog.evidence import check_split_view
from detente.tlog.hashing import leaf_hash
from detente.tlog.note import Verifier, parse_vkey
from detente.tlog.proof import verify_consistency
from detente.tlog.receipt import Receipt, verify_receipt

__all__ = [
    "KINDS",
    "PROOF_TYPE",
    "Finding",
    "bad_answer_proof",
    "bad_entry_proof",
    "check_misbehaviour",
    "dropped_entry_proof",
    "split_view_proof",
]

PROOF_TYPE = "detente/misbehaviour/v1"
KINDS = ("split-view", "dropped-entry", "bad-entry", "bad-answer")
#: The prefix of a bad entry is replayed at this time: ``at`` only refuses statements issued
#: in the future, so the most permissive time changes nothing else.
_REPLAY_AT = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a proof shows: its kind, a sentence for people, and whether it binds the log."""

    kind: str
    summary: str
    attributable: bool


# -- writing ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _document(
    kind: str,
    description: str,
    created: dt.datetime,
    hub: str,
    genesis_entry: bytes | None,
    evidence: Mapping[str, Any],
) -> bytes:
    return json.dumps(
        {
            "type": PROOF_TYPE,
            "kind": kind,
            "description": description,
            "created": created.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "hub": hub,
            "genesis": None if genesis_entry is None else _b64(genesis_entry),
            "evidence": dict(evidence),
        },
        indent=2,
        ensure_ascii=False,
    ).encode("utf-8")


def split_view_proof(
    error: SplitViewError, *, genesis_entry: bytes, description: str, created: dt.datetime, hub: str
) -> bytes:
    """A ``split-view`` proof from the error :class:`~detente.tlog.client.LogClient` raised."""
    evidence = {
        "first": error.first.decode("utf-8"),
        "second": error.second.decode("utf-8"),
        "proof": [_b64(h) for h in error.proof],
    }
    return _document("split-view", description, created, hub, genesis_entry, evidence)


def dropped_entry_proof(
    receipt: bytes,
    entry: bytes,
    second: bytes,
    proof: Sequence[bytes],
    *,
    genesis_entry: bytes,
    description: str,
    created: dt.datetime,
    hub: str,
) -> bytes:
    """A ``dropped-entry`` proof: a receipt and a later checkpoint that contradicts it."""
    evidence = {
        "receipt": receipt.decode("utf-8"),
        "entry": _b64(entry),
        "second": second.decode("utf-8"),
        "proof": [_b64(h) for h in proof],
    }
    return _document("dropped-entry", description, created, hub, genesis_entry, evidence)


def bad_entry_proof(
    entries: Sequence[bytes],
    checkpoint: bytes,
    proof: Sequence[bytes],
    *,
    judged_at: dt.datetime,
    description: str,
    created: dt.datetime,
    hub: str,
) -> bytes:
    """A ``bad-entry`` proof: entries 0..i of the log, the last one refused by the rules."""
    evidence = {
        "entries": [_b64(e) for e in entries],
        "checkpoint": checkpoint.decode("utf-8"),
        "proof": [_b64(h) for h in proof],
        "judged_at": judged_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    genesis_entry = entries[0] if entries else None
    return _document("bad-entry", description, created, hub, genesis_entry, evidence)


def bad_answer_proof(
    data: Mapping[str, bytes | str | int],
    *,
    genesis_entry: bytes | None,
    description: str,
    created: dt.datetime,
    hub: str,
) -> bytes:
    """A ``bad-answer`` record: what the hub served; bytes values are kept as base64."""
    evidence = {
        "data": {k: _b64(v) if isinstance(v, bytes) else v for k, v in data.items()},
    }
    return _document("bad-answer", description, created, hub, genesis_entry, evidence)


# -- checking --------------------------------------------------------------------------------


def _field(raw: Mapping[str, Any], name: str, kind: type) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind):
        raise MalformedError(f"proof field {name!r} must be a {kind.__name__}")
    return value


def _bytes(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(f"proof field {name!r} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise MalformedError(f"proof field {name!r} is not base64: {exc}") from exc


def _hashes(raw: Mapping[str, Any], name: str) -> tuple[bytes, ...]:
    items = _field(raw, name, list)
    return tuple(_bytes(h, f"{name}[{i}]") for i, h in enumerate(items))


def _note(raw: Mapping[str, Any], name: str) -> bytes:
    return str(_field(raw, name, str)).encode("utf-8")


def _time(value: object, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise MalformedError(f"proof field {name!r} must be an RFC 3339 time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedError(f"proof field {name!r} is not a time: {exc}") from exc
    if parsed.tzinfo is None:
        raise MalformedError(f"proof field {name!r} has no time zone")
    return parsed


def _group(genesis_entry: bytes, log_vkey: str | None) -> tuple[GroupState, Verifier]:
    try:
        state = genesis(genesis_entry)
    except DetenteError as exc:
        raise VerificationError(f"the proof's genesis entry does not found a group: {exc}") from exc
    if log_vkey is not None and state.log_vkey != log_vkey:
        raise VerificationError(
            f"the genesis names log key {state.log_vkey!r}, not the expected {log_vkey!r}"
        )
    return state, parse_vkey(state.log_vkey)


def _check_split(
    state: GroupState, log: Verifier, first: bytes, second: bytes, proof: Sequence[bytes]
) -> str:
    a, b = check_split_view(first, second, log, proof)
    if a.origin != state.log_origin:
        raise VerificationError(
            f"the checkpoints are of log {a.origin!r}, not the group's {state.log_origin!r}"
        )
    if a.size == b.size:
        return f"the log {a.origin} signed two different trees of size {a.size}"
    small, large = sorted((a.size, b.size))
    return (
        f"the log {a.origin} signed a tree of size {large} that does not extend the tree of "
        f"size {small} it also signed"
    )


_END_OF_TIME = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def _check_bad_entry(
    state: GroupState, log: Verifier, evidence: Mapping[str, Any], genesis_entry: bytes
) -> str:
    entries = [_bytes(e, f"entries[{i}]") for i, e in enumerate(_field(evidence, "entries", list))]
    if not entries or entries[0] != genesis_entry:
        raise MalformedError("the entries must start with the genesis entry")
    if len(entries) < 2:
        raise VerificationError("a founded group's genesis applies: no bad entry shown")
    witnesses = [parse_vkey(w.vkey) for w in state.witnesses]
    # The group's own witness quorum: a checkpoint stripped of its cosignatures (which the log
    # alone could have signed for any tree) proves nothing about when the entry was logged.
    signed = open_checkpoint(
        _note(evidence, "checkpoint"),
        log,
        witnesses,
        quorum=state.witness_quorum,
        origin=state.log_origin,
    )
    cp = signed.checkpoint
    proof = _hashes(evidence, "proof")
    tree = CompactRange()
    tree.extend(leaf_hash(e) for e in entries)
    count = len(entries)
    if count > cp.size:
        raise VerificationError(f"{count} entries, more than the checkpoint's {cp.size}")
    if count == cp.size:
        if proof:
            raise MalformedError(f"{len(proof)} proof hashes for a checkpoint of the same size")
        if tree.root() != cp.root:
            raise VerificationError(f"the entries are not the log's {count} leaves")
    else:
        try:
            verify_consistency(count, cp.size, proof, tree.root(), cp.root)
        except RootMismatchError as exc:
            raise VerificationError(f"the entries are not the log's first {count}: {exc}") from exc
    times = [ts for _, ts in signed.cosignatures if ts]
    if times:
        at = dt.datetime.fromtimestamp(max(times), dt.UTC)
        when = "the latest witness cosignature"
    else:
        # No witnessed time (a group without witnesses): the accuser's clock is no evidence,
        # so judge at the end of time, where only rules that do not depend on time can fail.
        at = _END_OF_TIME
        when = "no witnessed time, so only rules independent of time"
    for index, entry in enumerate(entries[1:-1], 1):
        try:
            state = apply(state, entry, at=_REPLAY_AT)
        except DetenteError as exc:
            raise VerificationError(
                f"entry {index}, before the one shown, does not apply either: {exc}"
            ) from exc
    bad = count - 1
    try:
        apply(state, entries[-1], at=at)
    except DetenteError as exc:
        rule = getattr(exc, "rule", type(exc).__name__)
        return (
            f"the log {cp.origin} (size {cp.size}) holds entry {bad}, which the group rules "
            f"refuse ({rule}, judged at {when}): {exc}"
        )
    raise VerificationError(f"entry {bad} applies under the group rules: no misbehaviour shown")


def _check_dropped(state: GroupState, log: Verifier, evidence: Mapping[str, Any]) -> str:
    receipt_text = _note(evidence, "receipt")
    entry = _bytes(evidence.get("entry"), "entry")
    receipt = Receipt.from_bytes(receipt_text)
    promised = verify_receipt(receipt, entry, log)
    split = _check_split(
        state, log, receipt.checkpoint, _note(evidence, "second"), _hashes(evidence, "proof")
    )
    return (
        f"the hub gave a receipt for entry {receipt.index} under size "
        f"{promised.checkpoint.size}, then {split.replace('the log', 'signed', 1)}: the "
        f"entry was dropped or changed"
    )


def check_misbehaviour(data: bytes, log_vkey: str | None = None) -> Finding:
    """Check a proof file offline; ``log_vkey`` pins the log key the caller knows."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedError(f"the proof is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("type") != PROOF_TYPE:
        raise MalformedError(f"not a {PROOF_TYPE} proof")
    kind = _field(raw, "kind", str)
    if kind not in KINDS:
        raise MalformedError(f"unknown misbehaviour kind {kind!r}")
    evidence = _field(raw, "evidence", dict)
    if kind == "bad-answer":
        return Finding(
            kind,
            "a record of an answer the hub served that failed a check; it carries no "
            "signature of the log and proves nothing to a third party",
            attributable=False,
        )
    genesis_entry = _bytes(raw.get("genesis"), "genesis")
    state, log = _group(genesis_entry, log_vkey)
    if kind == "split-view":
        summary = _check_split(
            state,
            log,
            _note(evidence, "first"),
            _note(evidence, "second"),
            _hashes(evidence, "proof"),
        )
    elif kind == "dropped-entry":
        summary = _check_dropped(state, log, evidence)
    else:
        summary = _check_bad_entry(state, log, evidence, genesis_entry)
    return Finding(kind, summary, attributable=True)

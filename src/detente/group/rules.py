"""The group rules: one pure state machine over the log's entries.

``genesis(entry)`` founds a group from entry 0; ``apply(state, entry, at=...)`` judges every
later entry and returns the new state, or raises:

- ``MalformedError`` / ``TooLargeError`` (from ``detente.statements``) for bytes that are not
  a well-formed statement;
- ``RejectedError(rule, message)`` for a well-formed statement the rules refuse; ``rule`` is a
  short stable code, the message says why in words.

Checks common to every statement, in order: a second genesis (``genesis-again``), the group
(``wrong-group``), the author (``unknown-author``, ``party-left``), an identical entry already
applied (``replay``, checked before the signature because its bytes were judged once), the
signature by the author's current key (``bad-signature``, or ``revoked-key`` when a past key
of the author verifies), the author's chain (``seq-gap``, ``fork``), the time
(``time-reversed``, ``future-dated``); then the TLP markings (``detente.group.marking``:
``not-encrypted``, ``red-needs-recipients``, re-sharing), then the rules of the kind
(``detente.group._kinds``).

``at`` is the time the entry is judged; it is used only to refuse statements issued more than
``FUTURE_SKEW`` after it, so replaying the same log at any later time gives the same state.
Each signature is verified once; everything else is O(log n) in the size of the state.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from immutables import Map
from pyrsistent import pvector

from detente.errors import RejectedError, SignatureError
from detente.group import _kinds, marking
from detente.group.state import (
    EncryptionKey,
    GroupState,
    Head,
    KeyPeriod,
    Party,
)
from detente.group.state import (
    _replace as replace,
)
from detente.statements.envelope import key_id, verify_signature
from detente.statements.kinds import GroupGenesis, PartyRotateKeys
from detente.statements.payload import GENESIS_KIND, SignedStatement, entry_hash, open_entry

__all__ = ["FUTURE_SKEW", "apply", "genesis"]

#: How far after ``at`` a statement may claim to have been issued (clock skew allowance).
FUTURE_SKEW = dt.timedelta(minutes=5)


def genesis(entry: bytes) -> GroupState:
    """The state after the genesis entry (entry 0), or RejectedError / MalformedError."""
    signed = open_entry(entry)
    statement = signed.statement
    if statement.kind != GENESIS_KIND:
        raise RejectedError(
            "not-genesis", f"entry 0 must be a {GENESIS_KIND} statement, not {statement.kind}"
        )
    body = cast(GroupGenesis, statement.body)
    founders = body.parties
    if statement.seq != 0 or statement.prev is not None:
        raise RejectedError(
            "genesis-seq", f"genesis has seq 0 and no prev, not seq {statement.seq}"
        )
    if statement.author != founders[0].id:
        raise RejectedError(
            "genesis-author",
            f"genesis is authored by the first founder {founders[0].id}, not {statement.author}",
        )
    ids = [party.id for party in founders]
    if len(set(ids)) != len(ids):
        raise RejectedError("duplicate-founder", f"a founder is listed twice: {', '.join(ids)}")
    keys = [party.signing_key for party in founders]
    if len(set(keys)) != len(keys):
        raise RejectedError("key-in-use", "two founders share a signing key")
    if body.admission_quorum > len(founders):
        raise RejectedError(
            "bad-quorum",
            f"admission quorum {body.admission_quorum} exceeds the {len(founders)} founders",
        )
    if body.witness_quorum > len(body.witnesses):
        raise RejectedError(
            "bad-quorum",
            f"witness quorum {body.witness_quorum} exceeds the {len(body.witnesses)} witnesses",
        )
    for party in founders:
        try:
            verify_signature(signed.envelope, party.signing_key)
        except SignatureError as exc:
            raise RejectedError(
                "genesis-unsigned", f"founder {party.id} has not signed the genesis: {exc}"
            ) from exc
    _check_signers(signed, {key_id(party.signing_key) for party in founders})
    digest = entry_hash(entry)
    parties = {
        party.id: Party(
            id=party.id,
            name=party.name,
            keys=(KeyPeriod(party.signing_key, key_id(party.signing_key), 0),),
            encryption_keys=(EncryptionKey(party.encryption_key, 0),),
            joined_at=0,
        )
        for party in founders
    }
    return GroupState(
        name=statement.group,
        title=body.name,
        description=body.description,
        genesis_hash=digest,
        log_origin=body.log_origin,
        log_vkey=body.log_vkey,
        witnesses=body.witnesses,
        witness_quorum=body.witness_quorum,
        admission_quorum=body.admission_quorum,
        acknowledge_hours=body.deadlines.acknowledge_hours,
        answer_hours=body.deadlines.answer_hours,
        size=1,
        parties=Map(parties),
        key_owners=Map({party.signing_key: party.id for party in founders}),
        heads=Map({statement.author: Head(0, digest, statement.issued_at)}),
        applied=Map({digest: 0}),
        admissions=Map(),
        norms=Map(),
        agreements=Map(),
        incidents=Map(),
        consultations=Map(),
        pings=Map(),
        sightings=pvector(),
        intel=pvector(),
        markings=Map(),
    )


def apply(state: GroupState, entry: bytes, *, at: dt.datetime) -> GroupState:
    """The state after ``entry``; ``state`` itself is never changed."""
    signed = open_entry(entry)
    statement = signed.statement
    if statement.kind == GENESIS_KIND:
        raise RejectedError("genesis-again", "the group already has its genesis")
    if statement.group != state.name:
        raise RejectedError(
            "wrong-group", f"statement for group {statement.group!r}, this is {state.name!r}"
        )
    author = state.parties.get(statement.author)
    if author is None:
        raise RejectedError("unknown-author", f"{statement.author!r} is not a party of the group")
    if author.left:
        raise RejectedError(
            "party-left", f"{author.id} left the group at entry {author.left_at} and cannot speak"
        )
    digest = entry_hash(entry)
    if digest in state.applied:  # a membership test is cheaper than get()
        raise RejectedError(
            "replay", f"this exact entry was already applied as entry {state.applied[digest]}"
        )
    _check_signature(signed, author)
    allowed = {author.keys[-1].key_id}
    if isinstance(statement.body, PartyRotateKeys):
        allowed.add(key_id(statement.body.signing_key))
    _check_signers(signed, allowed)
    head = state.heads.get(author.id)
    _check_chain(signed, head)
    if head is not None and statement.issued_at < head.issued_at:
        raise RejectedError(
            "time-reversed",
            f"issued at {statement.issued_at.isoformat()}, before the author's previous "
            f"statement ({head.issued_at.isoformat()})",
        )
    if statement.issued_at > at + FUTURE_SKEW:
        raise RejectedError(
            "future-dated",
            f"issued at {statement.issued_at.isoformat()}, more than "
            f"{int(FUTURE_SKEW.total_seconds()) // 60} minutes after {at.isoformat()}",
        )
    index = state.size
    marked = marking.judge(state, statement)
    changes = _kinds.HANDLERS[statement.kind](state, signed, index)
    if marked is not None:
        changes["markings"] = state.markings.set(index, marked)
    return replace(
        state,
        size=index + 1,
        heads=state.heads.set(author.id, Head(statement.seq, digest, statement.issued_at)),
        applied=state.applied.set(digest, index),
        **changes,
    )


def _check_signature(signed: SignedStatement, author: Party) -> None:
    try:
        verify_signature(signed.envelope, author.signing_key)
    except SignatureError as exc:
        # Only on failure: would a key the author no longer holds verify? Then say so.
        for period in author.keys[:-1]:
            try:
                verify_signature(signed.envelope, period.key)
            except SignatureError:
                continue
            raise RejectedError(
                "revoked-key",
                f"signed with {author.id}'s key {period.key_id}, replaced at entry "
                f"{period.valid_until}",
            ) from exc
        raise RejectedError(
            "bad-signature", f"no valid signature by {author.id}'s current key: {exc}"
        ) from exc


def _check_signers(signed: SignedStatement, allowed: set[str]) -> None:
    """No key signs but the allowed ones (missing signatures are caught by the checks that
    need them): an extra signature, by anyone, would give the same statement a second entry
    encoding, which a relay could pass off as the author forking its chain.
    """
    extra = {signature.keyid for signature in signed.envelope.signatures} - allowed
    if extra:
        raise RejectedError(
            "unexpected-signers",
            f"signed by keys that have no say in this statement: {', '.join(sorted(extra))}",
        )


def _check_chain(signed: SignedStatement, head: Head | None) -> None:
    statement = signed.statement
    expected = 1 if head is None else head.seq + 1
    if statement.seq > expected:
        raise RejectedError(
            "seq-gap", f"{statement.author}'s next seq is {expected}, not {statement.seq}"
        )
    if statement.seq < expected:
        raise RejectedError(
            "fork",
            f"{statement.author} already made statement {statement.seq} with other bytes",
        )
    # seq 1 (and the statement after a genesis, seq 0) carries no prev.
    expected_prev = None if head is None or head.seq == 0 else head.entry_hash
    if statement.prev != expected_prev:
        shown = "none" if statement.prev is None else statement.prev.hex()
        wanted = "none" if expected_prev is None else expected_prev.hex()
        raise RejectedError(
            "fork",
            f"{statement.author}'s statement {statement.seq} has prev {shown}, "
            f"not the author's previous entry {wanted}",
        )

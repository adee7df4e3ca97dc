"""Verify a transcript bundle with no network and no clock: ``verify_bundle(data)``.

The root of trust is the genesis entry. It names the log (origin and verifier key), the
witnesses and their quorum, and the founders' keys; it is entry 0 of the log whose key it
names, which is circular, so the transcript shows the genesis digest and the log key's
fingerprint for the reader to compare with what the parties published. Given that root,
in order:

1. the final checkpoint: signed by the log key, cosigned by a quorum of the genesis's
   witnesses, and carrying no signature line the genesis keys cannot check;
2. every inclusion proof (genesis, key history, statements) against the final checkpoint,
   and every earlier cosigned checkpoint's consistency proof to it;
3. every entry's envelope signature with its author's key valid at its index (genesis keys,
   plus the admissions and rotations in the bundle);
4. each author's chain where consecutive statements are present (``prev`` links, ``seq``
   and ``issued_at`` increasing, no two statements with one ``seq``);
5. the subject: every statement belongs to it (and, for a range, every index is present),
   and the group rules that need no full log: responses only by addressees, an allegation's
   norms and parties within the agreement it invokes (when the agreement is included),
   agreement signatures only by listed parties, consultation records only by invitees, and
   the markings: no TLP:AMBER or stricter content in the clear, sealed content readable by
   its author and every party it addresses (for an answer, the incident's author).

Sealed content is in a bundle only as the log holds it (its ciphertext's hash, size and
recipients): a bundle never carries anybody's opened plaintext.

Garbled input raises :class:`~detente.errors.MalformedError`; well-formed input that is
false raises a :class:`~detente.errors.VerificationError` (or subclass).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Sequence

from detente.errors import MalformedError, RejectedError, VerificationError
from detente.group.rules import genesis as found_group
from detente.group.state import GroupState
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    ConsultationRecord,
    ConsultationRequest,
    IncidentNotify,
    IncidentRespond,
    PartyAdmit,
    PartyRotateKeys,
    Purpose,
    SealableBody,
)
from detente.statements.payload import (
    GENESIS_KIND,
    SignedStatement,
    Statement,
    entry_hash,
    open_entry,
)
from detente.statements.sealing import CONFIDENTIAL_TLP
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from detente.tlog.hashing import leaf_hash
from detente.tlog.note import Ed25519Verifier, Verifier, parse_vkey
from detente.tlog.proof import verify_consistency, verify_inclusion
from detente.transcript._keyring import KeyRing
from detente.transcript.bundle import Bundle, LoggedEntry
from detente.transcript.report import (
    Row,
    Transcript,
    WitnessTime,
    deadline_statuses,
    sealed_of,
    summarize,
)
from detente.transcript.selection import select

__all__ = ["verify_bundle", "verify_parsed"]

_Entries = Sequence[tuple[int, SignedStatement]]


def verify_bundle(data: bytes) -> Transcript:
    """Parse and verify a bundle file's bytes; the transcript, or an error."""
    return verify_parsed(Bundle.from_bytes(data))


def verify_parsed(bundle: Bundle) -> Transcript:
    """Verify an already parsed bundle."""
    try:
        state = found_group(bundle.genesis.entry)
    except RejectedError as exc:
        raise VerificationError(f"the genesis entry does not found a group: {exc}") from exc
    log, witnesses = _keys(state)
    final = _open(bundle.checkpoint, "the final checkpoint", state, log, witnesses)
    size, root = final.checkpoint.size, final.checkpoint.root
    for item in (bundle.genesis, *bundle.entries()):
        _check_included(item, size, root)
    checkpoints = [*_earlier(bundle, state, log, witnesses, final), final]
    entries = [(e.index, open_entry(e.entry)) for e in bundle.entries()]
    history = {e.index for e in bundle.key_history}
    ring = KeyRing(state)
    for index, signed in entries:
        _check_entry(index, signed, state, index in history)
        ring.check(index, signed)
    genesis_signed = open_entry(bundle.genesis.entry)
    _check_chains([(0, genesis_signed), *entries])
    statements = [(i, s) for i, s in entries if i not in history]
    _check_subject(bundle, statements, size)
    _check_rules(statements)
    witnessed = [(c.checkpoint.size, _witnessed(c)) for c in checkpoints]
    times = {i: _logged_by(i, witnessed) for i, _ in entries}
    as_of = _witnessed(final)
    plain = [(i, s.statement) for i, s in statements]
    return Transcript(
        subject=bundle.subject,
        group=state.name,
        group_title=state.title,
        genesis_digest=state.genesis_hash,
        log_origin=state.log_origin,
        log_vkey=state.log_vkey,
        log_key_fingerprint=hashlib.sha256(state.log_vkey.encode()).hexdigest(),
        size=size,
        root=root,
        cosignatures=tuple(WitnessTime(n, _time(t)) for n, t in final.cosignatures),
        witness_quorum=state.witness_quorum,
        as_of=as_of,
        rows=tuple(_row(i, s, times[i]) for i, s in statements),
        key_history=tuple(_row(i, s, times[i]) for i, s in entries if i in history),
        deadlines=deadline_statuses(
            plain,
            times,
            acknowledge_hours=state.acknowledge_hours,
            answer_hours=state.answer_hours,
            as_of=as_of,
        ),
        notes=_notes(bundle, [(0, genesis_signed), *entries], size, as_of),
    )


# -- the log ------------------------------------------------------------------------------


def _keys(state: GroupState) -> tuple[Verifier, list[Verifier]]:
    log = parse_vkey(state.log_vkey)
    if not isinstance(log, Ed25519Verifier):
        raise VerificationError("the genesis's log key is not an Ed25519 key")
    return log, [parse_vkey(w.vkey) for w in state.witnesses]


def _open(
    note: bytes, what: str, state: GroupState, log: Verifier, witnesses: Sequence[Verifier]
) -> SignedCheckpoint:
    signed = open_checkpoint(note, log, witnesses, state.witness_quorum, state.log_origin)
    # A transcript carries only signatures its reader can check: one by the log, the rest by
    # the genesis's witnesses (a line the reader cannot check is noise someone could edit).
    unchecked = len(signed.note.signatures) - 1 - len(signed.cosignatures)
    if unchecked:
        raise VerificationError(
            f"{what} carries {unchecked} signature(s) by keys the genesis does not name"
        )
    for _, timestamp in signed.cosignatures:
        _time(timestamp)
    return signed


def _check_included(item: LoggedEntry, size: int, root: bytes) -> None:
    if item.index >= size:
        raise VerificationError(
            f"entry {item.index} is not in the final checkpoint: index {item.index} >= size {size}"
        )
    verify_inclusion(item.index, size, leaf_hash(item.entry), item.proof, root)


def _earlier(
    bundle: Bundle,
    state: GroupState,
    log: Verifier,
    witnesses: Sequence[Verifier],
    final: SignedCheckpoint,
) -> list[SignedCheckpoint]:
    opened: list[SignedCheckpoint] = []
    previous = 0
    for n, item in enumerate(bundle.earlier):
        signed = _open(item.note, f"earlier checkpoint {n}", state, log, witnesses)
        size = signed.checkpoint.size
        if not previous < size < final.checkpoint.size:
            raise MalformedError(
                f"earlier checkpoint {n} has size {size}: sizes must increase from 1 and stay "
                f"below the final size {final.checkpoint.size} (after {previous})"
            )
        previous = size
        verify_consistency(
            size, final.checkpoint.size, item.proof, signed.checkpoint.root, final.checkpoint.root
        )
        opened.append(signed)
    return opened


def _time(timestamp: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise MalformedError(f"cosignature time {timestamp} is out of range") from exc


def _witnessed(checkpoint: SignedCheckpoint) -> dt.datetime | None:
    stamps = [t for _, t in checkpoint.cosignatures if t]
    return _time(max(stamps)) if stamps else None


def _logged_by(
    index: int, checkpoints: Sequence[tuple[int, dt.datetime | None]]
) -> dt.datetime | None:
    """The earliest witnessed time of a checkpoint covering ``index``."""
    found = [t for size, t in checkpoints if size > index and t is not None]
    return min(found) if found else None


# -- the statements -------------------------------------------------------------------------


def _check_entry(index: int, signed: SignedStatement, state: GroupState, history: bool) -> None:
    statement = signed.statement
    if statement.kind == GENESIS_KIND:
        raise VerificationError(f"entry {index} is a second genesis")
    if statement.group != state.name:
        raise VerificationError(
            f"entry {index} is for group {statement.group!r}, not {state.name!r}"
        )
    if history and not isinstance(statement.body, PartyAdmit | PartyRotateKeys):
        raise MalformedError(
            f"key history entry {index} is a {statement.kind}, not party.admit or party.rotate-keys"
        )


def _check_chains(entries: _Entries) -> None:
    """Per author: seq and issued_at increase with the index, prev links consecutive seqs."""
    last: dict[str, tuple[int, SignedStatement]] = {}
    for index, signed in entries:
        statement = signed.statement
        before = last.get(statement.author)
        last[statement.author] = (index, signed)
        if before is None:
            continue
        earlier_index, earlier = before
        seq = earlier.statement.seq
        if statement.seq <= seq:
            raise VerificationError(
                f"{statement.author}'s chain forks: entry {index} has seq {statement.seq}, "
                f"entry {earlier_index} already had seq {seq}"
            )
        if statement.issued_at < earlier.statement.issued_at:
            raise VerificationError(
                f"{statement.author}'s entry {index} is issued before its entry {earlier_index}"
            )
        if statement.seq == seq + 1 and seq > 0 and statement.prev != entry_hash(earlier.entry):
            raise VerificationError(
                f"{statement.author}'s chain forks: entry {index} (seq {statement.seq}) does "
                f"not point to entry {earlier_index} (seq {seq})"
            )


def _check_subject(bundle: Bundle, statements: _Entries, size: int) -> None:
    subject = bundle.subject
    if subject.type != "range":
        wanted = IncidentNotify if subject.type == "incident" else AgreementPropose
        if not any(
            isinstance(s.statement.body, wanted) and s.statement.body.id == subject.id
            for _, s in statements
        ):
            raise VerificationError(
                f"the bundle lacks the statement that opens {subject.describe()}"
            )
    chosen = select(subject, [(i, s.statement) for i, s in statements])
    for index, signed in statements:
        if index not in chosen:
            raise VerificationError(
                f"statement {index} ({signed.statement.kind}) is not about {subject.describe()}"
            )
    if subject.type == "range":
        start, end = subject.start or 0, subject.end or 0
        if end > size:
            raise VerificationError(f"range end {end} is beyond the log's size {size}")
        present = {i for i, _ in statements}
        if present != set(range(start, end)):
            missing = sorted(set(range(start, end)) - present)
            raise VerificationError(
                f"the bundle lacks entries of {subject.describe()}: {missing[:10]}"
            )


def _check_rules(statements: _Entries) -> None:
    """The group rules a partial log can still check."""
    incidents: dict[str, IncidentNotify] = {}
    agreements: dict[str, AgreementPropose] = {}
    invited: dict[str, set[str]] = {}
    raisers: dict[str, str] = {}
    for index, signed in statements:
        author, body = signed.statement.author, signed.statement.body
        _check_marking(index, signed.statement)
        if isinstance(body, AgreementPropose):
            agreements[body.id] = body
        elif isinstance(body, AgreementSign):
            agreement = agreements.get(body.agreement)
            if agreement is not None and author not in agreement.parties:
                _refuse(index, f"{author} signs {body.agreement} but is not one of its parties")
        elif isinstance(body, IncidentNotify):
            incidents[body.id] = body
            raisers[body.id] = author
            agreement = agreements.get(body.agreement or "")
            if body.purpose is Purpose.ALLEGATION and agreement is not None:
                outside = [n for n in body.norms if n not in agreement.norms]
                if outside or not body.norms:
                    _refuse(index, f"the allegation names norms not in {agreement.id}: {outside}")
                strangers = [p for p in (author, *body.to) if p not in agreement.parties]
                if strangers:
                    _refuse(index, f"{strangers} are not parties to {agreement.id}")
        elif isinstance(body, IncidentRespond):
            incident = incidents.get(body.incident)
            if incident is not None and author not in incident.to:
                _refuse(index, f"{author} answers {body.incident} but is not addressed by it")
            raised_by = raisers.get(body.incident)
            if body.sealed is not None and raised_by and raised_by not in body.sealed.recipients:
                _refuse(index, f"{raised_by} raised {body.incident} but cannot read this answer")
        elif isinstance(body, ConsultationRequest):
            invited[body.id] = {author, *body.with_parties}
        elif isinstance(body, ConsultationRecord):
            guests = invited.get(body.consultation)
            if guests is not None and author not in guests:
                _refuse(index, f"{author} records {body.consultation} without being invited")


def _check_marking(index: int, statement: Statement) -> None:
    """The TLP markings a statement must meet on its own (``detente.group.marking``)."""
    body, tlp = statement.body, statement.tlp
    if tlp in CONFIDENTIAL_TLP:
        if not isinstance(body, SealableBody):
            _refuse(index, f"a {statement.kind} is read by the rules and cannot be TLP:{tlp.value}")
        elif body.sealed is None:
            _refuse(index, f"TLP:{tlp.value} content is in the clear")
    sealed = sealed_of(statement)
    if sealed is None:
        return
    addressed = {statement.author, *getattr(body, "to", ()), *getattr(body, "with_parties", ())}
    unreadable = sorted(addressed - set(sealed.recipients))
    if unreadable:
        _refuse(index, f"its sealed content cannot be read by {', '.join(unreadable)}")


def _refuse(index: int, message: str) -> None:
    raise VerificationError(f"statement {index} breaks the group rules: {message}")


# -- the reading ------------------------------------------------------------------------------


def _row(index: int, signed: SignedStatement, logged_by: dt.datetime | None) -> Row:
    s = signed.statement
    return Row(
        index, logged_by, s.issued_at, s.author, s.kind, summarize(s), s.tlp.value, sealed_of(s)
    )


def _notes(
    bundle: Bundle, entries: _Entries, size: int, as_of: dt.datetime | None
) -> tuple[str, ...]:
    notes = [
        "The root of trust is the genesis: compare its digest and the log key fingerprint "
        "with what the parties published.",
    ]
    subject = bundle.subject
    if subject.type != "range" or subject.end != size:
        notes.append(
            "A bundle proves what it contains was logged; it cannot prove that nothing was "
            "left out (a reply or a key rotation): a member holding the whole log can."
        )
    if as_of is None:
        notes.append("No witness cosigned the final checkpoint with a time: deadlines are open.")
    sealed = [i for i, signed in entries if sealed_of(signed.statement) is not None]
    if sealed:
        notes.append(
            f"{len(sealed)} statement(s) carry sealed content (entries "
            f"{', '.join(map(str, sealed[:10]))}{', ...' if len(sealed) > 10 else ''}): the "
            "log, and so this bundle, holds only its ciphertext's hash, size and recipients; "
            "the recipients can open it with their own keys."
        )
    seqs: dict[str, list[int]] = {}
    for _, signed in entries:
        seqs.setdefault(signed.statement.author, []).append(signed.statement.seq)
    for author, numbers in sorted(seqs.items()):
        gaps = [(a, b) for a, b in itertools.pairwise(numbers) if b > a + 1]
        if gaps:
            shown = ", ".join(f"{a + 1}" if b == a + 2 else f"{a + 1}-{b - 1}" for a, b in gaps[:5])
            notes.append(f"{author}'s statements with seq {shown} are not in this bundle.")
    return tuple(notes)

"""Build a transcript bundle from a log the caller holds: ``build_bundle(subject, ...)``.

Pure: the caller passes the final cosigned checkpoint note and callables that read its own
store (a node's verified copy of the log, or a hub's ``LogStore``)::

    bundle = build_bundle(
        Subject.incident("inc-election-2026-1"),
        checkpoint=store.latest_published().cosigned,
        fetch_entry=lambda i: store.read_entries(i, 1)[0],
        fetch_proof=store.inclusion_proof,            # (index, size) -> proof
        earlier=[c.cosigned for c in store.checkpoints(published_only=True)],
        fetch_consistency=store.consistency_proof,    # (size1, size2) -> proof
    )

Every entry of the tree the checkpoint names is read once (the subject's statements and the
key history they need can sit anywhere in it). The statements are chosen by
:func:`detente.transcript.selection.select`; the key history is every ``party.rotate-keys``
of an involved author before its last statement in the bundle, and for an author who is not
a founder, the ``party.admit`` votes for it, whose voters are involved in turn.
:func:`export_to_file` is the one function here that touches a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from detente.errors import MalformedError, NotFoundError
from detente.group.rules import genesis as found_group
from detente.statements.kinds import PartyAdmit, PartyRotateKeys
from detente.statements.payload import SignedStatement, open_entry
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.note import Note
from detente.transcript.bundle import Bundle, EarlierCheckpoint, LoggedEntry, Subject
from detente.transcript.selection import select

__all__ = ["FetchConsistency", "FetchEntry", "FetchProof", "build_bundle", "export_to_file"]

#: The entry at an index.
FetchEntry = Callable[[int], bytes]
#: The inclusion proof of ``index`` in the tree of ``size`` leaves: ``(index, size)``.
FetchProof = Callable[[int, int], Sequence[bytes]]
#: The consistency proof from the tree of ``size1`` leaves to ``size2``: ``(size1, size2)``.
FetchConsistency = Callable[[int, int], Sequence[bytes]]


def _size(note: bytes) -> int:
    return Checkpoint.from_text(Note.from_bytes(note).text).size


def build_bundle(
    subject: Subject,
    *,
    checkpoint: bytes,
    fetch_entry: FetchEntry,
    fetch_proof: FetchProof,
    earlier: Sequence[bytes] = (),
    fetch_consistency: FetchConsistency | None = None,
) -> Bundle:
    """The bundle for ``subject`` under the final cosigned ``checkpoint`` note.

    ``earlier`` cosigned notes (any order; those not smaller than the final one are skipped)
    give statements an earlier witnessed time; they need ``fetch_consistency``. NotFoundError
    when the log holds nothing about the subject.
    """
    size = _size(checkpoint)
    if size < 2:
        raise NotFoundError(f"the log has {size} entries: nothing to export")
    genesis_entry = fetch_entry(0)
    founders = set(found_group(genesis_entry).parties)
    log = [(i, open_entry(fetch_entry(i))) for i in range(1, size)]
    chosen = select(subject, [(i, s.statement) for i, s in log])
    if not chosen:
        raise NotFoundError(f"the log (size {size}) holds nothing about {subject.describe()}")
    history = _key_history(log, chosen, founders) - chosen

    def logged(index: int, entry: bytes) -> LoggedEntry:
        return LoggedEntry(index, entry, tuple(fetch_proof(index, size)))

    by_index = dict(log)
    return Bundle(
        subject=subject,
        genesis=logged(0, genesis_entry),
        statements=tuple(logged(i, by_index[i].entry) for i in sorted(chosen)),
        key_history=tuple(logged(i, by_index[i].entry) for i in sorted(history)),
        checkpoint=checkpoint,
        earlier=_earlier(earlier, size, fetch_consistency),
    )


def _earlier(
    notes: Sequence[bytes], size: int, fetch_consistency: FetchConsistency | None
) -> tuple[EarlierCheckpoint, ...]:
    by_size: dict[int, bytes] = {}
    for note in notes:
        older = _size(note)
        if 0 < older < size:
            by_size.setdefault(older, note)
    if not by_size:
        return ()
    if fetch_consistency is None:
        raise MalformedError("earlier checkpoints need fetch_consistency")
    return tuple(
        EarlierCheckpoint(by_size[s], tuple(fetch_consistency(s, size))) for s in sorted(by_size)
    )


def _key_history(
    log: Sequence[tuple[int, SignedStatement]], chosen: frozenset[int], founders: set[str]
) -> set[int]:
    """Indices of the admissions and rotations needed to check the chosen statements."""
    rotations: dict[str, list[int]] = {}
    votes: dict[str, list[tuple[int, str]]] = {}
    authors: dict[int, str] = {}
    for index, signed in log:
        statement = signed.statement
        authors[index] = statement.author
        if isinstance(statement.body, PartyRotateKeys):
            rotations.setdefault(statement.author, []).append(index)
        elif isinstance(statement.body, PartyAdmit):
            votes.setdefault(statement.body.party.id, []).append((index, statement.author))
    need: dict[str, int] = {}  # party -> its key is needed for entries before this index
    work: list[str] = []

    def needs(party: str, until: int) -> None:
        if until > need.get(party, 0):
            need[party] = until
            work.append(party)

    for index in chosen:
        needs(authors[index], index + 1)
    found: set[int] = set()
    while work:
        party = work.pop()
        until = need[party]
        found.update(i for i in rotations.get(party, ()) if i < until)
        if party in founders:
            continue
        for index, voter in votes.get(party, ()):
            if index < until:
                found.add(index)
                needs(voter, index + 1)
    return found


def export_to_file(
    path: Path,
    subject: Subject,
    *,
    checkpoint: bytes,
    fetch_entry: FetchEntry,
    fetch_proof: FetchProof,
    earlier: Sequence[bytes] = (),
    fetch_consistency: FetchConsistency | None = None,
) -> Bundle:
    """Build the bundle (see :func:`build_bundle`) and write it to ``path``."""
    bundle = build_bundle(
        subject,
        checkpoint=checkpoint,
        fetch_entry=fetch_entry,
        fetch_proof=fetch_proof,
        earlier=earlier,
        fetch_consistency=fetch_consistency,
    )
    path.write_bytes(bundle.to_bytes())
    return bundle

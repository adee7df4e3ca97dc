"""The hub's check that every blob a statement names is already stored on the hub.

Recipients fetch ciphertext from the hub, so a statement that names a blob the hub does not
hold (or holds with another size) is refused (rule ``blob-missing``, 422, nothing stored):

- a sealed body (``detente.statements.sealing``): its ciphertext;
- an ``intel.share``: its STIX bundle (age-encrypted);
- an incident that is NOT sealed: every evidence file with a ``blob`` (the evidence of a
  sealed incident is inside the ciphertext, which the hub cannot read; its recipients verify
  what they download).

The hub app runs it on both submit endpoints before ``HubService.submit``. It must cost next
to nothing for the statements that name no blob (pings, votes, answers): all of these members
are spelled ``"blob":"`` in the canonical payload, and the payload is base64 inside the
entry, so the entry's own bytes are searched for the base64 of that key at each of its three
possible alignments. Only an entry where one is found is parsed (a false match just costs a
parse); an entry that does not parse is left to the group rules, which refuse it properly.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence

from detente.crypto.blob import BlobRef
from detente.errors import DetenteError, RejectedError
from detente.hub.service import BatchRefusedError
from detente.statements.kinds import Body, IncidentNotify, IntelShare, SealableBody
from detente.statements.payload import open_entry

__all__ = ["base64_patterns", "check_sealed_blobs"]

_BLOB_MEMBER = b'"blob":"'
_UPLOAD_FIRST = "upload its ciphertext first (POST /v1/blobs/uploads), so every reader can fetch it"


def base64_patterns(needle: bytes) -> tuple[bytes, ...]:
    """What base64 text holds ``needle`` wherever it sits in the encoded bytes: for each of
    the three alignments, the 4-character groups made of needle bytes only."""
    patterns = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + needle)
        first = -(-offset // 3)  # the first group holding no padding byte
        last = (offset + len(needle)) // 3  # groups before this one end inside the needle
        patterns.append(encoded[4 * first : 4 * last])
    return tuple(patterns)


_PATTERNS = base64_patterns(_BLOB_MEMBER)


def check_sealed_blobs(
    entries: Sequence[bytes], stored: Callable[[bytes], BlobRef | None], *, batch: bool = False
) -> None:
    """Refuse (``blob-missing``) the first entry naming a blob that ``stored`` lacks.

    ``stored(sha256)`` is the hub's blob store lookup. With ``batch`` the refusal is a
    ``BatchRefusedError`` naming the position.
    """
    for position, entry in enumerate(entries):
        try:
            _check(entry, stored)
        except RejectedError as exc:
            if batch:
                raise BatchRefusedError(position, exc) from exc
            raise


def _check(entry: bytes, stored: Callable[[bytes], BlobRef | None]) -> None:
    if not any(pattern in entry for pattern in _PATTERNS):
        return
    try:
        statement = open_entry(entry).statement
    except DetenteError:
        return
    for sha256, size, what in _blobs_named(statement.body):
        held = stored(sha256)
        if held is None:
            raise RejectedError(
                "blob-missing",
                f"{what} of this {statement.kind} is blob {sha256.hex()}, which the hub does "
                f"not hold: {_UPLOAD_FIRST}",
            )
        if size is not None and held.size != size:
            raise RejectedError(
                "blob-missing",
                f"blob {sha256.hex()} has {held.size} bytes on the hub, but the statement says "
                f"{size}",
            )


def _blobs_named(body: Body) -> Iterator[tuple[bytes, int | None, str]]:
    """(SHA-256, size if the statement states it, what it is) of every blob ``body`` names."""
    if isinstance(body, SealableBody) and body.sealed is not None:
        yield body.sealed.blob, body.sealed.size, "the sealed content"
    if isinstance(body, IntelShare):
        yield body.blob, body.size, "the shared bundle"
    if isinstance(body, IncidentNotify) and body.sealed is None:
        for evidence in body.evidence or ():
            if evidence.blob is not None:
                yield evidence.blob, None, f"evidence {evidence.name!r}"

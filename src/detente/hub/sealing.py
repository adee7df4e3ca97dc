"""The hub's check of sealed statements: their ciphertext must already be stored as a blob.

A sealed statement (``detente.statements.sealing``) names its ciphertext by SHA-256 and size;
the recipients fetch it from the hub. So the hub refuses a sealed statement whose blob it does
not hold, or holds with another size (rule ``blob-missing``, 422, nothing stored): every
recipient of a logged sealed statement can fetch what it was sent.

The same holds for evidence files (``Evidence.blob``) of an incident that is NOT sealed: its
evidence list is readable, so the hub refuses it (``blob-missing``) when it does not hold a
blob the list names. The evidence of a sealed incident is inside the ciphertext, which the hub
cannot read: its recipients verify what they download.

The hub app runs it on both submit endpoints before ``HubService.submit``. Cheap for the
other statements: only the envelope is decoded, and its canonical payload is searched for the
``"sealed":{`` and ``"evidence":[{`` members (keys the canonical JSON spells exactly so;
inside a string the quotes would be escaped); only a payload that has one is parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detente.crypto.blob import BlobRef
from detente.errors import DetenteError, RejectedError
from detente.hub.service import BatchRefusedError
from detente.statements.envelope import Envelope
from detente.statements.kinds import IncidentNotify, SealableBody
from detente.statements.payload import open_entry

__all__ = ["check_sealed_blobs"]

_SEALED_MEMBER = b'"sealed":{'
_EVIDENCE_MEMBER = b'"evidence":[{'


def check_sealed_blobs(
    entries: Sequence[bytes], stored: Callable[[bytes], BlobRef | None], *, batch: bool = False
) -> None:
    """Refuse (``blob-missing``) the first sealed entry whose ciphertext ``stored`` lacks.

    ``stored(sha256)`` is the hub's blob store lookup. Entries that do not parse are left to
    the group rules, which refuse them with the right rule. With ``batch`` the refusal is a
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
    try:
        payload = Envelope.from_bytes(entry).payload
    except DetenteError:
        return
    if _SEALED_MEMBER not in payload and _EVIDENCE_MEMBER not in payload:
        return
    try:
        statement = open_entry(entry).statement
    except DetenteError:
        return
    body = statement.body
    if isinstance(body, IncidentNotify) and body.sealed is None:
        for evidence in body.evidence or ():
            if evidence.blob is not None and stored(evidence.blob) is None:
                raise RejectedError(
                    "blob-missing",
                    f"evidence {evidence.name!r} of this incident is blob "
                    f"{evidence.blob.hex()}, which the hub does not hold: upload its "
                    "ciphertext first (POST /v1/blobs/uploads), so every reader can fetch it",
                )
        return
    if not isinstance(body, SealableBody) or body.sealed is None:
        return
    sealed = body.sealed
    held = stored(sealed.blob)
    if held is None:
        raise RejectedError(
            "blob-missing",
            f"the sealed content of this {statement.kind} is blob {sealed.blob.hex()}, which "
            "the hub does not hold: upload the ciphertext first (POST /v1/blobs/uploads), so "
            "every recipient can fetch it",
        )
    if held.size != sealed.size:
        raise RejectedError(
            "blob-missing",
            f"blob {sealed.blob.hex()} has {held.size} bytes on the hub, but the statement says "
            f"{sealed.size}",
        )

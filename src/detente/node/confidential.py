"""Sealing on the node: who may read a statement, encrypting its body, moving ciphertext.

The pure rules are in ``detente.statements.sealing`` (plaintext, public body, opening) and
``detente.group.marking`` (who may read what); this module adds what needs keys and bytes:

- :func:`recipients_for`: the author, every party a body addresses (``incident.notify.to``,
  ``consultation.request.with_parties``, ``consultation.record.participants``,
  ``intel.share.to``; for ``incident.respond`` and ``sighting.report`` the incident's author)
  and the extra parties asked for, sorted;
- :func:`seal_body`: encrypt a body's plaintext (age, in memory: at most 1 MiB) to each
  recipient's CURRENT encryption key in the group state, and the public body naming it;
- :func:`encrypt` / :func:`decrypt`: age in memory; :func:`upload_bytes` /
  :func:`download_bytes`: a small ciphertext to and from the hub's blob store (its SHA-256
  and size checked by :class:`detente.node.blobs.BlobClient`).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from detente.crypto.age import AGE_HEADER, Identity, Recipient, decrypt_stream, encrypt_stream
from detente.crypto.blob import BlobRef
from detente.errors import RejectedError, TooLargeError
from detente.group.state import GroupState
from detente.node.blobs import BlobClient
from detente.statements.kinds import (
    ConsultationRecord,
    ConsultationRequest,
    IncidentNotify,
    IncidentRespond,
    IntelShare,
    SealableBody,
    Sealed,
    SightingReport,
)
from detente.statements.sealing import MAX_PLAINTEXT_SIZE, plaintext, public_body

__all__ = [
    "MAX_SEALED_SIZE",
    "Sealing",
    "decrypt",
    "download_bytes",
    "encrypt",
    "recipients_for",
    "seal_body",
    "upload_bytes",
]

#: The largest ciphertext of a sealed body a node fetches: the plaintext limit plus age's
#: header and per-chunk tags (16 bytes per 64 KiB), with room to spare.
MAX_SEALED_SIZE = MAX_PLAINTEXT_SIZE + 64 * 1024

_B = TypeVar("_B", bound=SealableBody)


@dataclass(frozen=True, slots=True)
class Sealing(Generic[_B]):
    """A sealed body: what the payload carries, and the ciphertext to upload first."""

    public: _B
    ciphertext: bytes

    @property
    def ref(self) -> BlobRef:
        return BlobRef(hashlib.sha256(self.ciphertext).digest(), len(self.ciphertext))


def recipients_for(
    state: GroupState, author: str, body: SealableBody, extra: Iterable[str] = ()
) -> tuple[str, ...]:
    """Who a sealed ``body`` by ``author`` is encrypted to (sorted, each once)."""
    named = {author, *extra}
    if isinstance(body, IncidentNotify):
        named.update(body.to)
    elif isinstance(body, ConsultationRequest):
        named.update(body.with_parties)
    elif isinstance(body, ConsultationRecord):
        named.update(body.participants)
    elif isinstance(body, IntelShare):
        named.update(body.to)
    elif isinstance(body, IncidentRespond | SightingReport) and body.incident is not None:
        incident = state.incidents.get(body.incident)
        if incident is not None:
            named.add(incident.author)
    return tuple(sorted(named))


def seal_body(state: GroupState, body: _B, recipients: Sequence[str]) -> Sealing[_B]:
    """Encrypt ``body`` (unsealed) to the current keys of ``recipients``; its public body."""
    keys = []
    for party_id in recipients:
        party = state.parties.get(party_id)
        if party is None or party.left:
            raise RejectedError(
                "unknown-recipient", f"cannot encrypt to {party_id}: not a member of the group"
            )
        keys.append(Recipient(party.encryption_key))
    ciphertext = encrypt(plaintext(body), keys)
    sealed = Sealed(
        blob=hashlib.sha256(ciphertext).digest(),
        size=len(ciphertext),
        recipients=tuple(recipients),
    )
    return Sealing(public_body(body, sealed), ciphertext)


def encrypt(data: bytes, recipients: Sequence[Recipient]) -> bytes:
    """``data`` as an age v1 file for ``recipients`` (in memory)."""
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, recipients)
    return out.getvalue()


def decrypt(data: bytes, identities: Sequence[Identity]) -> bytes:
    """The plaintext of the age file ``data``, with any of ``identities``."""
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, identities)
    return out.getvalue()


def upload_bytes(client: BlobClient, data: bytes) -> BlobRef:
    """Upload the ciphertext ``data`` (age) to the hub; its reference."""
    if not data.startswith(AGE_HEADER):
        raise RejectedError("not-encrypted", "only age ciphertext is ever uploaded")
    ref = BlobRef(hashlib.sha256(data).digest(), len(data))
    with tempfile.TemporaryDirectory(prefix="detente-seal-") as work:
        path = Path(work) / "sealed.age"
        path.write_bytes(data)
        return client.upload(path, ref)


def download_bytes(client: BlobClient, sealed: Sealed) -> bytes:
    """The ciphertext ``sealed`` names, fetched and checked (SHA-256 and size)."""
    if sealed.size > MAX_SEALED_SIZE:
        raise TooLargeError(
            f"a sealed body's ciphertext is at most {MAX_SEALED_SIZE} bytes, not {sealed.size}"
        )
    with tempfile.TemporaryDirectory(prefix="detente-open-") as work:
        path = Path(work) / "sealed.age"
        client.download(BlobRef(sealed.blob, sealed.size), path)
        return path.read_bytes()

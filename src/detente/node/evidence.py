"""Evidence files as blobs: sealed to an incident's readers, uploaded, fetched and verified.

An incident references each evidence file by the SHA-256 and size of the file itself
(:class:`detente.statements.kinds.Evidence`), and, when the file travels through the hub, by
``blob``: the SHA-256 of its age ciphertext there.

- :func:`attach_evidence` streams the file through age (``seal_file``) to the CURRENT keys of
  the incident's readers (:func:`incident_readers`), uploads the ciphertext in resumable
  chunks and returns the reference. The ciphertext waits in ``NODE/blobs/outgoing/`` until
  the hub holds it all (or ``KEEP_UNSENT`` has passed): attaching the same unchanged file to
  the same readers again resumes the hub's unfinished upload instead of starting over. It is
  :func:`seal_evidence` (seal, keep the ciphertext) then :func:`upload_evidence` (upload
  what was kept), which the web UI calls apart: at the preview and when the member signs.
  Ciphertext sealed more than ``KEEP_UNSENT`` (a week) ago and never uploaded is removed
  when evidence is next sealed.
- :func:`fetch_evidence` downloads the blob (its SHA-256 checked), decrypts it with every
  identity the node ever had, and keeps it in ``NODE/evidence/`` only if the plaintext's
  SHA-256 and size are the ones the incident names (``VerificationError`` otherwise: the
  author sent something other than what it referenced).

Nothing here holds a file in memory: every step streams.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from rich.console import Console

from detente.crypto.age import Identity, Recipient
from detente.crypto.blob import BlobRef
from detente.errors import MalformedError, NotFoundError, RejectedError, VerificationError
from detente.group.state import GroupState, Incident
from detente.node.blobs import BlobClient, Sealed, open_blob, seal_file
from detente.node.config import NodeDir
from detente.statements.kinds import Body, Evidence, IncidentNotify, Tlp
from detente.statements.sealing import CONFIDENTIAL_TLP

__all__ = [
    "EVIDENCE_DIR",
    "KEEP_UNSENT",
    "EvidenceNode",
    "attach_evidence",
    "evidence_path",
    "fetch_evidence",
    "find_evidence",
    "incident_readers",
    "is_reader",
    "readable_evidence",
    "safe_name",
    "seal_evidence",
    "stored_name",
    "upload_evidence",
]

#: Where a node keeps evidence files, under its directory.
EVIDENCE_DIR = "evidence"
#: Seconds a sealed evidence file's ciphertext waits on the node for its upload (a week);
#: older ones are removed the next time evidence is sealed.
KEEP_UNSENT = 7 * 24 * 3600
_OUTGOING = Path("blobs") / "outgoing"
_INCOMING = Path("blobs") / "incoming"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_READ = 1024 * 1024
_OCTETS = "application/octet-stream"


class EvidenceNode(Protocol):
    """What moving evidence needs of a node (``detente.node.instance.Node`` is one)."""

    directory: NodeDir

    @property
    def party(self) -> str: ...

    def state(self) -> GroupState: ...

    def identities(self) -> list[Identity]: ...

    def blob_client(self, console: Console | None = None) -> BlobClient: ...


def incident_readers(
    state: GroupState,
    author: str,
    to: Iterable[str],
    *,
    tlp: Tlp,
    recipients: Iterable[str] = (),
) -> tuple[str, ...]:
    """Who may read an incident's evidence, sorted: when the incident will be sealed
    (TLP:AMBER and stricter, or recipients named) the parties it is sealed to (the author,
    the addressees and the extra recipients, as the speaker seals it); otherwise every
    current member of the group."""
    extra = tuple(recipients)
    if tlp in CONFIDENTIAL_TLP or extra:
        return tuple(sorted({author, *to, *extra}))
    return tuple(sorted(p for p in state.parties if state.is_member(p)))


def is_reader(state: GroupState, party: str, incident: Incident) -> bool:
    """Whether ``party`` is one of the incident's readers: a party it is sealed to, or, when
    it is not sealed, a current member."""
    if incident.sealed is not None:
        return party in incident.sealed.recipients
    return state.is_member(party)


def readable_evidence(
    state: GroupState, party: str, incident: Incident, opened: Body | None
) -> tuple[Evidence, ...]:
    """The evidence list of ``incident`` as ``party`` reads it (``opened``: the whole body
    its node opened, for a sealed incident); NotFoundError when it cannot read it."""
    if not is_reader(state, party, incident):
        raise NotFoundError(
            f"incident {incident.id} is sealed to {', '.join(_recipients(incident))}: "
            f"{party} cannot read its evidence"
        )
    if incident.sealed is None:
        return incident.evidence
    if not isinstance(opened, IncidentNotify) or opened.sealed is not None:
        raise NotFoundError(
            f"incident {incident.id} is sealed and this node has not opened it yet "
            "(`detente node sync` fetches it)"
        )
    return opened.evidence or ()


def attach_evidence(
    node: EvidenceNode,
    path: Path,
    readers: Sequence[str],
    *,
    media_type: str | None = None,
    name: str | None = None,
    console: Console | None = None,
) -> Evidence:
    """Seal the file ``path`` to ``readers``, upload it to the hub; its reference (named
    ``name``, by default the file's name)."""
    evidence = seal_evidence(node, path, readers, media_type=media_type, name=name, console=console)
    upload_evidence(node, [evidence], console=console)
    return evidence


def seal_evidence(
    node: EvidenceNode,
    path: Path,
    readers: Sequence[str],
    *,
    media_type: str | None = None,
    name: str | None = None,
    console: Console | None = None,
) -> Evidence:
    """Seal the file ``path`` to ``readers`` and keep the ciphertext in ``blobs/outgoing/``
    for :func:`upload_evidence`; its reference. Nothing reaches the hub yet (the web UI seals
    at the preview and uploads only when the member signs). Sealing the same unchanged file
    to the same keys again returns the same reference, from the ciphertext kept.

    Each ciphertext is kept under the file's fingerprint and its own SHA-256
    (``evidence-{fingerprint}.{sha256}.age``, and a ``.json`` note written after it), so
    two seals of one file at once keep two whole ciphertexts rather than mixing them."""
    keys = _keys(node.state(), readers)
    if not path.is_file():
        raise NotFoundError(f"{path} is not a file")
    media = media_type or mimetypes.guess_type(path.name)[0] or _OCTETS
    outgoing = node.directory.path / _OUTGOING
    outgoing.mkdir(parents=True, exist_ok=True)
    stem = f"evidence-{_fingerprint(path, keys)}"
    sealed = _resumed(outgoing, stem, media)
    if sealed is None:
        partial = outgoing / f"{stem}.{secrets.token_hex(8)}.sealing"
        try:
            sealed = seal_file(path, partial, keys, media_type=media, console=console)
            kept = outgoing / f"{stem}.{sealed.ref.hex}.age"
            partial.replace(kept)
        finally:
            partial.unlink(missing_ok=True)
        written = outgoing / f"{stem}.{secrets.token_hex(8)}.noting"
        written.write_text(json.dumps(_note(sealed)), encoding="utf-8")
        written.replace(kept.with_suffix(".json"))  # the note appears whole, after the file
    _prune(outgoing, time.time() - KEEP_UNSENT)
    return Evidence(
        sha256=sealed.plaintext_sha256,
        name=(name or path.name)[:200],
        media_type=media[:200],
        size=sealed.plaintext_size,
        blob=sealed.ref.sha256,
    )


def upload_evidence(
    node: EvidenceNode, evidence: Iterable[Evidence], *, console: Console | None = None
) -> int:
    """Make sure the hub holds the ciphertext of each of ``evidence`` that names a blob:
    upload the one :func:`seal_evidence` kept, then drop it; how many were uploaded. A blob
    this node does not keep must be on the hub already, or ``NotFoundError`` says to attach
    the file again, and nothing is uploaded. On failure the kept ciphertext stays, and
    uploading again resumes."""
    outgoing = node.directory.path / _OUTGOING
    client = node.blob_client(console)
    uploads = []
    for item in evidence:  # every blob accounted for before any is uploaded
        if item.blob is None:
            continue
        kept = _kept_blob(outgoing, item.blob)
        if kept is not None:
            uploads.append(kept)
            continue
        try:
            client.stat(item.blob)
        except NotFoundError:
            raise NotFoundError(
                f"evidence {item.name!r}: its sealed copy is no longer on this node (one is "
                f"kept {KEEP_UNSENT // 86400} days) and the hub does not hold it: attach the "
                "file again"
            ) from None
    for file, note, sealed in uploads:
        client.upload(file, sealed.ref)
        file.unlink(missing_ok=True)
        note.unlink(missing_ok=True)
    return len(uploads)


def fetch_evidence(
    node: EvidenceNode, evidence: Evidence, *, console: Console | None = None
) -> Path:
    """The evidence file ``evidence`` names, in the node's evidence folder: fetched from the
    hub, decrypted and verified unless the node already holds it."""
    held = find_evidence(node.directory.path, evidence)
    if held is not None:
        return held
    if evidence.blob is None:
        raise NotFoundError(
            f"evidence {evidence.name!r} is held out of band (the incident names no blob on "
            "the hub), and this node does not hold it"
        )
    client = node.blob_client(console)
    ref = client.stat(evidence.blob)
    if ref.size > _largest_ciphertext(evidence.size):
        raise VerificationError(
            f"the hub gives blob {ref.hex} as {ref.size} bytes: too large for an age file of "
            f"the {evidence.size} bytes evidence {evidence.name!r} has"
        )
    folder = node.directory.path / EVIDENCE_DIR
    folder.mkdir(exist_ok=True)
    incoming = node.directory.path / _INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    dest = evidence_path(node.directory.path, evidence)
    with tempfile.TemporaryDirectory(prefix="evidence-", dir=incoming) as work:
        ciphertext = Path(work) / "evidence.age"
        client.download(ref, ciphertext)
        plain = Path(work) / "evidence"
        digest, size = open_blob(ciphertext, plain, node.identities(), console=console)
        ciphertext.unlink()
        if digest != evidence.sha256 or size != evidence.size:
            raise VerificationError(
                f"evidence {evidence.name!r} does not verify: blob {ref.hex} decrypts to "
                f"{size} bytes hashing to {digest.hex()}, but the incident names "
                f"{evidence.size} bytes hashing to {evidence.sha256.hex()} (the author sent "
                "another file than the one it referenced)"
            )
        os.replace(plain, dest)
    return dest


def safe_name(name: str) -> str:
    """``name`` as a plain file name: no directories, no dot files, only ``A-Za-z0-9._-``."""
    return _SAFE_NAME.sub("-", Path(name).name).strip("-.") or "evidence"


def stored_name(sha256: bytes, name: str) -> str:
    """The file name a node keeps evidence under: hash prefix and a safe form of its name."""
    return f"{sha256.hex()[:16]}-{safe_name(name)}"


def evidence_path(node_dir: Path, evidence: Evidence) -> Path:
    """Where the node keeps ``evidence`` once fetched."""
    return node_dir / EVIDENCE_DIR / stored_name(evidence.sha256, evidence.name)


def find_evidence(node_dir: Path, evidence: Evidence) -> Path | None:
    """A file in the node's evidence folder whose SHA-256 and size are the evidence's."""
    folder = node_dir / EVIDENCE_DIR
    if not folder.is_dir():
        return None
    usual = evidence_path(node_dir, evidence)
    others = sorted(p for p in folder.iterdir() if p != usual and not p.name.startswith("."))
    for path in (usual, *others):
        if (
            path.is_file()
            and path.stat().st_size == evidence.size
            and _hash(path) == evidence.sha256
        ):
            return path
    return None


def _recipients(incident: Incident) -> tuple[str, ...]:
    return () if incident.sealed is None else incident.sealed.recipients


def _keys(state: GroupState, readers: Sequence[str]) -> list[Recipient]:
    if not readers:
        raise MalformedError("evidence is sealed to at least one reader")
    keys = []
    for party_id in sorted(set(readers)):
        party = state.parties.get(party_id)
        if party is None or party.left:
            raise RejectedError(
                "unknown-recipient", f"cannot encrypt to {party_id}: not a member of the group"
            )
        keys.append(Recipient(party.encryption_key))
    return keys


def _fingerprint(path: Path, keys: Sequence[Recipient]) -> str:
    """Names the ciphertext of this file (as it is now) for these keys, to resume it."""
    info = path.stat()
    what = {
        "path": str(path.resolve()),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "keys": sorted(str(k) for k in keys),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


def _note(sealed: Sealed) -> dict[str, object]:
    return {
        "sha256": sealed.ref.hex,
        "size": sealed.ref.size,
        "plaintext_sha256": sealed.plaintext_sha256.hex(),
        "plaintext_size": sealed.plaintext_size,
    }


def _prune(outgoing: Path, before: float) -> None:
    """Remove what sealing left in ``outgoing`` before ``before`` and never uploaded (a
    preview abandoned, an upload given up, a seal cut short): sealing again makes anew."""
    for leftover in outgoing.glob("evidence-*"):
        try:
            if leftover.stat().st_mtime < before:
                leftover.unlink(missing_ok=True)
        except OSError:
            continue


def _kept(file: Path, note: Path, media_type: str) -> Sealed | None:
    """The ciphertext ``file`` its ``note`` describes, if whole and named by its hash."""
    try:
        raw = json.loads(note.read_text(encoding="utf-8"))
        ref = BlobRef(bytes.fromhex(raw["sha256"]), int(raw["size"]), media_type)
        sealed = Sealed(ref, bytes.fromhex(raw["plaintext_sha256"]), int(raw["plaintext_size"]))
        if file.name.endswith(f".{ref.hex}.age") and file.stat().st_size == ref.size:
            return sealed
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _resumed(outgoing: Path, stem: str, media_type: str) -> Sealed | None:
    """A ciphertext kept for fingerprint ``stem``, if one is whole (its week starts over);
    else None."""
    for note in sorted(outgoing.glob(f"{stem}.*.json")):
        file = note.with_suffix(".age")
        sealed = _kept(file, note, media_type)
        if sealed is not None:
            for wanted in (file, note):
                os.utime(wanted)
            return sealed
    return None


def _kept_blob(outgoing: Path, blob: bytes) -> tuple[Path, Path, Sealed] | None:
    """The kept ciphertext of ``blob``, its note and what they describe; None if none."""
    for note in sorted(outgoing.glob(f"evidence-*.{blob.hex()}.json")):
        file = note.with_suffix(".age")
        sealed = _kept(file, note, _OCTETS)
        if sealed is not None:
            return file, note, sealed
    return None


def _largest_ciphertext(plaintext_size: int) -> int:
    """An upper bound on the size of an age file of ``plaintext_size`` bytes: a header
    (stanzas for at most 64 recipients), a nonce and a 16-byte tag per 64 KiB chunk."""
    return plaintext_size + 16 * (plaintext_size // 65536 + 1) + 64 * 1024


def _hash(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(_READ):
            digest.update(piece)
    return digest.digest()

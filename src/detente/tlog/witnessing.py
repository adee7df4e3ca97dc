"""The log's side of c2sp.org/tlog-witness: ask witnesses to cosign, publish only with quorum.

:class:`WitnessClient` speaks ``add-checkpoint`` to one witness and verifies the cosignature
it returns with the witness's key before accepting it. :func:`collect_cosignatures` asks every
witness in parallel (each failure stays that witness's own: a timeout or a refusal from one
does not stop the others) and returns the note with the cosignatures added, or raises
:class:`QuorumError`. :class:`Publisher` does both for the durable store and publishes the
checkpoint only when the quorum is met; otherwise the published checkpoint stays the old one.

Errors of :meth:`WitnessClient.add_checkpoint`, by the witness's answer: 409 is
:class:`WitnessConflictError` carrying the witness's latest cosigned size (retry with a proof
from that size); 404 :class:`NotFoundError`; 403 :class:`SignatureError`; 400
:class:`MalformedError`; 422 :class:`VerificationError`; a cosignature that does not verify
:class:`SignatureError`. Transport failures and other statuses are ``httpx.HTTPError``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from detente.errors import (
    ConflictError,
    DetenteError,
    MalformedError,
    NotFoundError,
    QuorumError,
    SignatureError,
    VerificationError,
)
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.note import Note, NoteSignature, Verifier, open_note
from detente.tlog.storage import LogStore, StoredCheckpoint

__all__ = [
    "DEFAULT_TIMEOUT",
    "Publisher",
    "WitnessClient",
    "WitnessConflictError",
    "collect_cosignatures",
]

#: Seconds for one add-checkpoint call (connect, write, read each), like tessera's 1 s order.
DEFAULT_TIMEOUT = 5.0
_MAX_RESPONSE = 64 * 1024
_SIZE_BODY = re.compile(rb"(0|[1-9][0-9]{0,19})\n")
_SIZE_TYPE = "text/x.tlog.size"


class WitnessConflictError(ConflictError):
    """The witness's latest cosigned size is not the old size sent (HTTP 409); ``size`` is it."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(f"{message}: the witness is at size {size}")
        self.size = size


ConsistencyProof = Callable[[int, int], Sequence[bytes]]


class WitnessClient:
    """One witness: its URL prefix (``add-checkpoint`` is appended) and its cosigner key."""

    def __init__(
        self,
        url: str,
        verifier: Verifier,
        http: httpx.Client,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self.verifier = verifier
        self._http = http
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self.verifier.name

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: Note) -> NoteSignature:
        """Submit ``note`` with a consistency proof from ``old_size``; return the cosignature."""
        if old_size < 0 or len(proof) > 63:
            raise MalformedError(f"old size {old_size} with {len(proof)} proof lines")
        body = b"".join(
            [
                f"old {old_size}\n".encode(),
                *(base64.b64encode(h) + b"\n" for h in proof),
                b"\n",
                note.to_bytes(),
            ]
        )
        response = self._http.post(
            f"{self.url}/add-checkpoint",
            content=body,
            headers={"Content-Type": "text/plain"},
            timeout=self._timeout,
        )
        content = response.content
        if len(content) > _MAX_RESPONSE:
            raise MalformedError(f"witness {self.name} answered {len(content)} bytes")
        status = response.status_code
        if status == 200:
            return self._verify(note, content)
        detail = f"witness {self.name} refused the checkpoint ({status})"
        if status == 409:
            raise WitnessConflictError(detail, size=self._parse_size(response))
        if status == 404:
            raise NotFoundError(f"{detail}: it does not know the log")
        if status == 403:
            raise SignatureError(f"{detail}: it found no trusted log signature")
        if status == 400:
            raise MalformedError(f"{detail}: it found the request malformed")
        if status == 422:
            raise VerificationError(f"{detail}: the consistency proof failed")
        response.raise_for_status()
        raise httpx.HTTPStatusError(detail, request=response.request, response=response)

    def _parse_size(self, response: httpx.Response) -> int:
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        match = _SIZE_BODY.fullmatch(response.content)
        if content_type != _SIZE_TYPE or match is None:
            raise MalformedError(f"witness {self.name} sent a 409 without a {_SIZE_TYPE} size")
        return int(match.group(1))

    def _verify(self, note: Note, content: bytes) -> NoteSignature:
        # The answer is signature lines: appended to the checkpoint text they form a note,
        # opened with this witness's key only (c2sp.org/tlog-witness, client side).
        _, verified = open_note(note.text.encode("utf-8") + b"\n" + content, [self.verifier])
        return verified[0]


def collect_cosignatures(
    note: Note,
    witnesses: Sequence[WitnessClient],
    quorum: int,
    consistency_proof: ConsistencyProof,
    known_sizes: MutableMapping[str, int],
    failures: MutableMapping[str, Exception] | None = None,
) -> Note:
    """``note`` with the cosignatures of the witnesses that gave one, or QuorumError.

    ``known_sizes`` maps witness name to the size that witness last cosigned (absent: 0);
    it is updated in place, so a caller keeps it between rounds. ``consistency_proof(old,
    new)`` builds proofs from the log's tree. Each witness that fails is recorded in
    ``failures`` (if given) and does not stop the others.
    """
    checkpoint = Checkpoint.from_text(note.text)
    if not 0 <= quorum <= len(witnesses):
        raise MalformedError(f"quorum {quorum} is not between 0 and {len(witnesses)} witnesses")

    def ask(witness: WitnessClient) -> NoteSignature:
        old = known_sizes.get(witness.name, 0)
        for _attempt in range(2):
            if old > checkpoint.size:
                raise ConflictError(
                    f"witness {witness.name} is at size {old}, beyond {checkpoint.size}"
                )
            proof = consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size else ()
            try:
                signature = witness.add_checkpoint(old, proof, note)
            except WitnessConflictError as exc:
                known_sizes[witness.name] = exc.size
                if exc.size == old:  # same size, different root: retrying cannot help
                    raise
                old = exc.size
                continue
            known_sizes[witness.name] = checkpoint.size
            return signature
        raise ConflictError(f"witness {witness.name} kept moving its size")

    signatures: list[NoteSignature] = []
    errors: dict[str, Exception] = {}
    if witnesses:
        with ThreadPoolExecutor(max_workers=len(witnesses)) as pool:
            futures = [(w, pool.submit(ask, w)) for w in witnesses]
            for witness, future in futures:
                try:
                    signatures.append(future.result())
                except (DetenteError, httpx.HTTPError) as exc:
                    errors[witness.name] = exc
    if failures is not None:
        failures.update(errors)
    if len(signatures) < quorum:
        reasons = "; ".join(f"{name}: {exc}" for name, exc in errors.items())
        raise QuorumError(
            f"checkpoint {checkpoint.origin} at size {checkpoint.size} not cosigned ({reasons})",
            needed=quorum,
            found=len(signatures),
        )
    return Note(note.text, (*note.signatures, *signatures))


class Publisher:
    """Publishes the log's signed checkpoints once ``quorum`` witnesses cosigned them."""

    def __init__(self, store: LogStore, witnesses: Sequence[WitnessClient], quorum: int) -> None:
        if not 0 <= quorum <= len(witnesses):
            raise MalformedError(f"quorum {quorum} is not between 0 and {len(witnesses)}")
        self._store = store
        self._witnesses = tuple(witnesses)
        self._quorum = quorum
        self._known: dict[str, int] | None = None
        #: What each witness answered in the last round that it did not cosign.
        self.last_failures: dict[str, Exception] = {}

    def cosign(self, checkpoint: StoredCheckpoint) -> bytes:
        """The note of ``checkpoint`` with ``quorum`` cosignatures added, or QuorumError.

        A publisher is also the sequencer's ``publisher`` callable: the sequencer stores
        what this returns, and nothing when it raises.
        """
        if self._known is None:
            # Every witness that cosigned the published checkpoint is at least at its size;
            # a witness that is not answers 409 with its size and is asked again.
            published = self._store.latest_published()
            start = 0 if published is None else published.size
            self._known = {w.name: start for w in self._witnesses}
        self.last_failures = {}
        cosigned = collect_cosignatures(
            Note.from_bytes(checkpoint.note),
            self._witnesses,
            self._quorum,
            self._store.consistency_proof,
            self._known,
            self.last_failures,
        )
        return cosigned.to_bytes()

    __call__ = cosign

    def publish(self, checkpoint: StoredCheckpoint | None = None) -> bytes | None:
        """Cosign and publish ``checkpoint`` (default: the latest signed); return the note.

        None when it is already published or older than the published one. Raises
        :class:`QuorumError`, with nothing published, when too few witnesses cosign.
        """
        if checkpoint is None:
            checkpoint = self._store.latest_checkpoint()
            if checkpoint is None:
                return None
        published = self._store.latest_published()
        if checkpoint.published or (published is not None and published.size >= checkpoint.size):
            return None
        data = self.cosign(checkpoint)
        self._store.publish(checkpoint.size, data)
        return data

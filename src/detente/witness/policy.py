"""The decision of the c2sp.org/tlog-witness ``add-checkpoint`` call, as pure functions.

A request body is parsed strictly at the edge into an :class:`AddCheckpointRequest`::

    old <size>\\n            ASCII decimal, no leading zeros ("0" for zero)
    <base64 hash>\\n         0 to 63 lines: consistency proof from the old size
    \\n
    <signed checkpoint note>

:func:`decide` then applies the protocol's checks in the order the specification gives them,
against the trusted log keys and the witness's stored ``(size, root)`` for that origin, and
returns the state to store (with a compare-and-swap) before cosigning. It raises typed errors
that the web layer maps to the statuses of the specification:

=============================================================  ===================  ======
condition                                                      error                status
=============================================================  ===================  ======
body or checkpoint cannot be parsed; old size > checkpoint     MalformedError       400
size
origin not trusted                                             NotFoundError        404
no trusted log signature verifies                              SignatureError       403
old size is not the stored size; same size, different root     ConflictError        409
consistency proof fails; non-empty proof with old size 0       VerificationError    422
=============================================================  ===================  ======

Same size with a different root is 409 because c2sp.org/tlog-witness says so ("If the old
size matches the checkpoint size, the witness MUST check that the root hashes are also
identical. If they don't match, the witness MUST respond with a 409 Conflict").
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from detente.errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    RootMismatchError,
    VerificationError,
)
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE
from detente.tlog.note import Note, Verifier, open_note
from detente.tlog.proof import verify_consistency

__all__ = [
    "MAX_PROOF_LINES",
    "AddCheckpointRequest",
    "WitnessState",
    "decide",
]

#: The client MUST NOT send more than 63 consistency proof lines (c2sp.org/tlog-witness).
MAX_PROOF_LINES = 63

_OLD_LINE = re.compile(rb"old (0|[1-9][0-9]{0,19})\n")
_B64_HASH_LEN = 44  # base64 of 32 bytes, with one "=" of padding


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The latest checkpoint a witness cosigned for one origin: its size and root."""

    size: int
    root: bytes

    def __post_init__(self) -> None:
        if self.size < 0:
            raise MalformedError(f"tree size is negative: {self.size}")
        if len(self.root) != HASH_SIZE:
            raise MalformedError(f"root is {len(self.root)} bytes, not {HASH_SIZE}")


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """A parsed ``add-checkpoint`` body: the old size, the proof and the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint

    @classmethod
    def from_bytes(cls, body: bytes) -> AddCheckpointRequest:
        """Parse a request body strictly; :class:`MalformedError` names what is wrong."""
        match = _OLD_LINE.match(body)
        if match is None:
            raise MalformedError("request does not start with an 'old <size>' line")
        old_size = int(match.group(1))
        pos = match.end()
        proof: list[bytes] = []
        while True:
            end = body.find(b"\n", pos)
            if end < 0:
                raise MalformedError("request ends before the blank line after the proof")
            line = body[pos:end]
            pos = end + 1
            if not line:
                break
            if len(proof) == MAX_PROOF_LINES:
                raise MalformedError(f"more than {MAX_PROOF_LINES} consistency proof lines")
            proof.append(_decode_hash(line, len(proof)))
        # An empty note would make the request say nothing; the note parser refuses it.
        note = Note.from_bytes(body[pos:])
        checkpoint = Checkpoint.from_text(note.text)
        return cls(old_size, tuple(proof), note, checkpoint)

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}\n".encode()]
        lines += [base64.b64encode(h) + b"\n" for h in self.proof]
        return b"".join(lines) + b"\n" + self.note.to_bytes()


def _decode_hash(line: bytes, number: int) -> bytes:
    # Exactly one canonical encoding is accepted: a hash has one spelling on the wire.
    if len(line) != _B64_HASH_LEN:
        raise MalformedError(f"proof line {number} is {len(line)} characters, not {_B64_HASH_LEN}")
    try:
        digest = base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise MalformedError(f"proof line {number} is not base64: {exc}") from exc
    if len(digest) != HASH_SIZE or base64.b64encode(digest) != line:
        raise MalformedError(f"proof line {number} is not a canonical {HASH_SIZE}-byte hash")
    return digest


def decide(
    request: AddCheckpointRequest,
    logs: Mapping[str, Verifier],
    stored: WitnessState | None,
) -> WitnessState:
    """Check ``request`` against the trusted ``logs`` and the ``stored`` state of its origin.

    ``stored`` is None when the witness never cosigned this origin (its size counts as 0).
    Returns the state to store (compare-and-swap from ``stored``) before cosigning; raises
    the errors listed in the module docstring otherwise.
    """
    checkpoint = request.checkpoint
    verifier = logs.get(checkpoint.origin)
    if verifier is None:
        raise NotFoundError(f"unknown log origin {checkpoint.origin!r}")
    # open_note ignores unknown keys and raises SignatureError when no trusted key verifies
    # or when a trusted key's signature fails.
    open_note(request.note.to_bytes(), [verifier])
    if request.old_size > checkpoint.size:
        raise MalformedError(
            f"old size is beyond the checkpoint size: {request.old_size} > {checkpoint.size}"
        )
    current = stored if stored is not None else WitnessState(0, EMPTY_ROOT)
    if request.old_size != current.size:
        raise ConflictError(
            f"old size {request.old_size} is not the latest cosigned size {current.size}"
        )
    if request.old_size == 0 and request.proof:
        raise VerificationError(
            f"old size is 0 but the request carries {len(request.proof)} proof lines"
        )
    new = WitnessState(checkpoint.size, checkpoint.root)
    if new.size == current.size:
        if request.proof:
            raise VerificationError(
                f"old and new size are both {new.size} but the request carries "
                f"{len(request.proof)} proof lines"
            )
        if new.root != current.root:
            raise ConflictError(
                f"checkpoint of size {new.size} has a root other than the cosigned one"
            )
        return new
    if current.size > 0:
        _check_consistency(request, current, new)
    # else: every tree extends the empty tree, and the proof was checked to be empty.
    return new


def _check_consistency(request: AddCheckpointRequest, old: WitnessState, new: WitnessState) -> None:
    try:
        verify_consistency(old.size, new.size, request.proof, old.root, new.root)
    except RootMismatchError:
        raise
    except MalformedError as exc:
        # A proof of the wrong length is well-formed at the protocol level but does not
        # prove anything: the specification answers it like any failing proof (422).
        raise VerificationError(
            f"consistency proof from {old.size} to {new.size} does not verify: {exc}"
        ) from exc

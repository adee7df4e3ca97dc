"""c2sp.org/tlog-checkpoint: a log's signed statement of its size and root.

The checkpoint body is the text of a signed note::

    <origin>\\n          non-empty, no control characters (spaces and '+' are allowed)
    <tree size>\\n       ASCII decimal, no leading zeros ("0" for the empty tree), < 2**64
    <base64 root>\\n     canonical standard base64 of exactly 32 bytes
    [<extension>\\n]*    optional non-empty lines, kept verbatim

:func:`open_checkpoint` verifies the log's signature and, given witnesses and a quorum, their
cosignatures (c2sp.org/tlog-cosignature), with the Go signed-note rules of
:func:`detente.tlog.note.open_note`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import MalformedError, QuorumError, SignatureError, VerificationError
from detente.tlog.cosignature import CosignatureVerifier
from detente.tlog.hashing import HASH_SIZE
from detente.tlog.note import (
    Note,
    Signer,
    Verifier,
    _b64decode,
    _b64encode,
    _check_no_controls,
    open_note,
    sign_note,
)

__all__ = ["Checkpoint", "SignedCheckpoint", "open_checkpoint", "sign_checkpoint"]

_MAX_SIZE = (1 << 64) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A validated checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The spec only RECOMMENDS a URL-like origin without spaces or '+' and says clients
        # MUST NOT assume it (sum.golang.org's origin is "go.sum database tree").
        if not isinstance(self.origin, str) or not self.origin:
            raise MalformedError("checkpoint origin is empty")
        if "\n" in self.origin:
            raise MalformedError("checkpoint origin contains a newline")
        _check_no_controls(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= _MAX_SIZE:
            raise MalformedError(f"checkpoint size out of range: {self.size} not in [0, 2**64)")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise MalformedError(f"checkpoint root is {len(self.root)} bytes, expected {HASH_SIZE}")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for number, line in enumerate(self.extensions, 1):
            if not isinstance(line, str) or not line:
                raise MalformedError(f"checkpoint extension line {number} is empty")
            if "\n" in line:
                raise MalformedError(f"checkpoint extension line {number} contains a newline")
            _check_no_controls(line, f"checkpoint extension line {number}")

    @classmethod
    def from_text(cls, text: str | bytes) -> Checkpoint:
        """Parse a checkpoint body strictly; :class:`MalformedError` on any deviation."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedError(f"checkpoint is not UTF-8 at byte {exc.start}") from None
        if not text.endswith("\n"):
            raise MalformedError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedError(f"checkpoint has {len(lines)} lines, need at least 3")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedError(
                f"checkpoint size is not a decimal without leading zeros ({len(size_text)} chars)"
            )
        size = int(size_text)
        if size > _MAX_SIZE:
            raise MalformedError(f"checkpoint size {size} does not fit in 64 bits")
        root = _b64decode(root_text, "checkpoint root")
        return cls(origin, size, root, tuple(extensions))

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with the cosignatures that verified.

    ``cosignatures`` holds (witness name, timestamp) per verified witness, in note order;
    the timestamp is 0 for a witness key that is not a cosignature/v1 key.
    """

    checkpoint: Checkpoint
    note: Note
    cosignatures: tuple[tuple[str, int], ...]

    def to_bytes(self) -> bytes:
        return self.note.to_bytes()


def open_checkpoint(
    data: bytes,
    log: Verifier,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    origin: str | None = None,
) -> SignedCheckpoint:
    """Verify a signed checkpoint note: the log's signature, then ``quorum`` witnesses.

    A known key (the log or a witness) whose signature fails rejects the note
    (:class:`SignatureError`), as does a note the log did not sign. Fewer than ``quorum``
    verified witnesses is :class:`QuorumError`; an origin other than ``origin`` is
    :class:`VerificationError`.
    """
    if isinstance(quorum, bool) or quorum < 0:
        raise MalformedError(f"quorum must be >= 0, got {quorum}")
    note, verified = open_note(data, [log, *witnesses])
    checkpoint = Checkpoint.from_text(note.text)
    log_ident = (log.name, log.key_id)
    if not any((sig.name, sig.key_id) == log_ident for sig in verified):
        raise SignatureError(f"checkpoint is not signed by the log key {log.name}+{log.key_id:08x}")
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    by_ident = {(w.name, w.key_id): w for w in witnesses if (w.name, w.key_id) != log_ident}
    cosignatures: list[tuple[str, int]] = []
    for sig in verified:
        witness = by_ident.get((sig.name, sig.key_id))
        if witness is None:
            continue
        is_cosig = isinstance(witness, CosignatureVerifier)
        cosignatures.append(
            (sig.name, CosignatureVerifier.timestamp(sig.signature) if is_cosig else 0)
        )
    if len(cosignatures) < quorum:
        raise QuorumError(
            f"too few witness cosignatures on {checkpoint.origin} at size {checkpoint.size}",
            needed=quorum,
            found=len(cosignatures),
        )
    return SignedCheckpoint(checkpoint, note, tuple(cosignatures))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> Note:
    """The checkpoint body signed by the log's ``signer`` (whose name should be the origin)."""
    return sign_note(checkpoint.to_text(), [signer])

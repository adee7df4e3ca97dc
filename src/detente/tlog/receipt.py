"""c2sp.org/tlog-proof: an offline receipt that an entry is in a (cosigned) checkpoint.

Format::

    c2sp.org/tlog-proof@v1\\n
    [extra <base64 opaque data>\\n]    optional, not authenticated: never trust it implicitly
    index <decimal, no leading zeros>\\n
    [<base64 hash>\\n]*                 inclusion proof, leaf's sibling first (RFC 6962 2.1.1)
    \\n
    <signed checkpoint note, verbatim>

:meth:`Receipt.from_bytes` checks the proof part strictly and keeps the checkpoint note as
bytes; the note is parsed and verified by :func:`verify_receipt`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import MalformedError
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from detente.tlog.hashing import HASH_SIZE, leaf_hash
from detente.tlog.note import Verifier, _b64decode, _b64encode
from detente.tlog.proof import verify_inclusion

__all__ = ["Receipt", "verify_receipt"]

_HEADER = "c2sp.org/tlog-proof@v1"
_EXTRA = "extra "
_INDEX = "index "
_MAX_INDEX = (1 << 64) - 1
#: An inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
_MAX_PROOF = 64
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class Receipt:
    """Leaf index, inclusion proof, the signed checkpoint note (bytes), optional extra data."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not 0 <= self.index <= _MAX_INDEX:
            raise MalformedError(f"receipt index out of range: {self.index} not in [0, 2**64)")
        object.__setattr__(self, "proof", tuple(self.proof))
        if len(self.proof) > _MAX_PROOF:
            raise MalformedError(f"receipt proof has {len(self.proof)} hashes, > {_MAX_PROOF}")
        for number, value in enumerate(self.proof):
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise MalformedError(
                    f"receipt proof hash {number} is {len(value)} bytes, expected {HASH_SIZE}"
                )
        if not isinstance(self.checkpoint, bytes) or not self.checkpoint:
            raise MalformedError("receipt checkpoint is empty")
        # Empty extra data would have no line of its own and could not round-trip.
        if self.extra is not None and (not isinstance(self.extra, bytes) or not self.extra):
            raise MalformedError("receipt extra data must be None or non-empty bytes")

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        """Parse strictly; :class:`MalformedError` on any deviation from the format."""
        # Proof lines are never empty, so the first blank line ends them.
        split = data.find(b"\n\n")
        if split < 0:
            raise MalformedError("receipt has no blank line before its checkpoint")
        try:
            head = data[: split + 1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedError(f"receipt header is not ASCII at byte {exc.start}") from None
        lines = head[:-1].split("\n")
        if lines[0] != _HEADER:
            raise MalformedError(f"receipt does not start with {_HEADER}")
        position = 1
        extra = None
        if position < len(lines) and lines[position].startswith(_EXTRA):
            extra = _b64decode(lines[position][len(_EXTRA) :], "receipt extra")
            if not extra:
                raise MalformedError("receipt extra line is empty")
            position += 1
        if position >= len(lines) or not lines[position].startswith(_INDEX):
            raise MalformedError(f"receipt line {position + 1} is not 'index <n>'")
        index_text = lines[position][len(_INDEX) :]
        if not _DECIMAL.fullmatch(index_text):
            raise MalformedError(
                f"receipt index is not a decimal without leading zeros ({len(index_text)} chars)"
            )
        proof = tuple(
            _b64decode(line, f"receipt proof line {number}")
            for number, line in enumerate(lines[position + 1 :], position + 2)
        )
        return cls(int(index_text), proof, data[split + 2 :], extra)

    def to_bytes(self) -> bytes:
        lines = [_HEADER]
        if self.extra is not None:
            lines.append(_EXTRA + _b64encode(self.extra))
        lines.append(f"{_INDEX}{self.index}")
        lines.extend(_b64encode(value) for value in self.proof)
        return ("".join(line + "\n" for line in lines) + "\n").encode("ascii") + self.checkpoint


def verify_receipt(
    receipt: Receipt,
    entry: bytes,
    log: Verifier,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
) -> SignedCheckpoint:
    """Verify the checkpoint's signatures (see :func:`open_checkpoint`), then that ``entry``
    is the leaf at ``receipt.index`` under its root; return the verified checkpoint.
    """
    signed = open_checkpoint(receipt.checkpoint, log, witnesses, quorum)
    checkpoint = signed.checkpoint
    verify_inclusion(
        receipt.index, checkpoint.size, leaf_hash(entry), receipt.proof, checkpoint.root
    )
    return signed

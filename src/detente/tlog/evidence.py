"""Self-contained evidence that a log signed two checkpoints that cannot both be true.

Pure: a third party checks it offline with nothing but the log's verifier key. The evidence
is two complete signed notes and, for different sizes, a proof:

* **same size, different roots**: the proof is empty; both signatures suffice.
* **different sizes** (``small`` < ``large``): the proof is ``(r, *p)`` where ``p`` is an
  RFC 9162 consistency proof from ``small.size`` to ``large.size`` that verifies between
  ``r`` and ``large.root``, and ``r != small.root``. By the collision resistance of SHA-256
  the log's ``large.root`` commits to a tree whose first ``small.size`` leaves have root
  ``r``, yet the log also signed ``small.root`` for that size. (A proof that merely fails to
  verify proves nothing: anyone can write one, so the evidence carries one that succeeds.)

The JSON file form::

    {"type": "detente/split-view/v1", "first": "<note>", "second": "<note>",
     "proof": ["<base64 hash>", ...]}
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from detente.errors import (
    MalformedError,
    RootMismatchError,
    SplitViewError,
    VerificationError,
)
from detente.tlog.checkpoint import Checkpoint, open_checkpoint
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE
from detente.tlog.note import Verifier
from detente.tlog.proof import verify_consistency

__all__ = [
    "EVIDENCE_TYPE",
    "check_split_view",
    "split_view_from_json",
    "split_view_to_json",
]

EVIDENCE_TYPE = "detente/split-view/v1"


def check_split_view(
    first: bytes, second: bytes, log: Verifier, proof: Sequence[bytes] = ()
) -> tuple[Checkpoint, Checkpoint]:
    """Return the two checkpoints if the evidence shows the log signed both and they conflict.

    Raises :class:`SignatureError` if the log did not sign both notes, :class:`MalformedError`
    for notes or a proof that do not parse, and :class:`VerificationError` when the evidence
    does not demonstrate a conflict.
    """
    a = open_checkpoint(first, log).checkpoint
    b = open_checkpoint(second, log).checkpoint
    if a.origin != b.origin:
        raise VerificationError(f"the checkpoints are of two origins: {a.origin!r}, {b.origin!r}")
    for h in proof:
        if len(h) != HASH_SIZE:
            raise MalformedError(f"proof hash is {len(h)} bytes, not {HASH_SIZE}")
    if a.size == b.size:
        if proof:
            raise MalformedError(f"same-size evidence carries {len(proof)} proof hashes, not 0")
        if a.root == b.root:
            raise VerificationError(f"both checkpoints of size {a.size} have the same root")
        return a, b
    small, large = (a, b) if a.size < b.size else (b, a)
    if small.size == 0:
        # Only one tree has no leaves: a signed size-0 checkpoint must carry its root.
        if proof:
            raise MalformedError(f"evidence against size 0 carries {len(proof)} hashes, not 0")
        if small.root == EMPTY_ROOT:
            raise VerificationError("the size-0 checkpoint has the empty tree's root")
        return a, b
    if not proof:
        raise VerificationError(
            f"checkpoints of sizes {small.size} and {large.size} come without a proof"
        )
    claimed, path = proof[0], tuple(proof[1:])
    if claimed == small.root:
        raise VerificationError(
            f"the proof agrees with the checkpoint at size {small.size}: no conflict shown"
        )
    try:
        verify_consistency(small.size, large.size, path, claimed, large.root)
    except RootMismatchError as exc:
        raise VerificationError(
            f"the proof does not lead to the root of size {large.size}: {exc}"
        ) from exc
    return a, b


def split_view_to_json(error: SplitViewError) -> bytes:
    """The evidence of ``error`` as a JSON proof file."""
    return json.dumps(
        {
            "type": EVIDENCE_TYPE,
            "first": error.first.decode("utf-8"),
            "second": error.second.decode("utf-8"),
            "proof": [base64.b64encode(h).decode("ascii") for h in error.proof],
        },
        indent=2,
        ensure_ascii=False,
    ).encode("utf-8")


def split_view_from_json(data: bytes) -> SplitViewError:
    """Parse a JSON proof file (not verified: pass its parts to :func:`check_split_view`)."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("type") != EVIDENCE_TYPE:
            raise MalformedError(f"not a {EVIDENCE_TYPE} evidence file")
        first, second, proof = raw["first"], raw["second"], raw["proof"]
        if not isinstance(first, str) or not isinstance(second, str):
            raise MalformedError("evidence notes must be strings")
        if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
            raise MalformedError("evidence proof must be a list of base64 strings")
        hashes = tuple(base64.b64decode(h, validate=True) for h in proof)
    except (ValueError, KeyError, binascii.Error) as exc:
        if isinstance(exc, MalformedError):
            raise
        raise MalformedError(f"evidence file does not parse: {exc}") from exc
    return SplitViewError(
        "split-view evidence from a file",
        first=first.encode("utf-8"),
        second=second.encode("utf-8"),
        proof=hashes,
    )

"""The "verify" action: check one statement's receipt on this node, and say what failed.

For the member's own statements the node kept the receipt the hub gave at submission; for
everyone else's it builds one itself: the inclusion proof from its own verified copy of the
log, under the latest checkpoint it trusts. Either receipt is then checked offline with
``detente.tlog.receipt.verify_receipt`` against the log key, witnesses and quorum of the
group's genesis, and the entry must be byte for byte the one the node verified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from detente.errors import (
    DetenteError,
    MalformedError,
    QuorumError,
    RootMismatchError,
    SignatureError,
    VerificationError,
)
from detente.group.state import GroupState
from detente.node._tree import LocalTree
from detente.node.speaker import verify_member_receipt
from detente.tlog import prover
from detente.tlog.hashing import leaf_hash
from detente.tlog.receipt import Receipt

__all__ = ["OWN", "REBUILT", "ReceiptCheck", "check_receipt"]

#: Where a receipt came from: kept since the hub gave it, or rebuilt from the node's copy.
OWN = "the receipt the hub gave this node when it submitted the statement"
REBUILT = "an inclusion proof this node built from its own verified copy of the log"


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The result of checking one entry's receipt: valid, or which check failed and why."""

    index: int
    source: str
    valid: bool
    failed_check: str | None  # None when valid
    message: str
    size: int | None = None  # the checkpoint the receipt is under
    root: str | None = None
    cosignatures: tuple[tuple[str, dt.datetime | None], ...] = ()


def _failed(index: int, source: str, exc: DetenteError) -> ReceiptCheck:
    if isinstance(exc, SignatureError):
        check = "checkpoint signatures (log key)"
    elif isinstance(exc, QuorumError):
        check = "witness cosignature quorum"
    elif isinstance(exc, RootMismatchError | VerificationError):
        check = "inclusion proof against the checkpoint root"
    elif isinstance(exc, MalformedError):
        check = "receipt format"
    else:
        check = "receipt"
    return ReceiptCheck(index, source, False, check, str(exc))


def check_receipt(store: Any, state: GroupState, index: int) -> ReceiptCheck:
    """Check the receipt of entry ``index`` (see the module docstring); never raises for a
    receipt that fails: the failure is the result."""
    if not 0 <= index < state.size:
        raise MalformedError(f"index {index} is not in the node's log of {state.size} entries")
    entry = store.read_entries(index, 1)[0]
    kept = next((r for r in store.receipts() if r.index == index), None)
    if kept is not None:
        source = OWN
        if kept.entry != entry:
            return ReceiptCheck(
                index,
                source,
                False,
                "entry bytes",
                "the entry in the log is not the one the receipt was given for",
            )
        try:
            receipt = Receipt.from_bytes(kept.receipt)
        except MalformedError as exc:
            return _failed(index, source, exc)
    else:
        source = REBUILT
        latest = store.latest_checkpoint()
        if latest is None or latest.size <= index:
            return ReceiptCheck(
                index, source, False, "checkpoint", "no trusted checkpoint covers this entry yet"
            )
        tree = LocalTree([leaf_hash(e) for e in store.read_entries(0, latest.size)])
        proof = prover.inclusion_proof(index, latest.size, tree.read_tile)
        receipt = Receipt(index, proof, bytes(latest.note))
    try:
        signed = verify_member_receipt(state, receipt, entry)
    except DetenteError as exc:
        return _failed(index, source, exc)
    checkpoint = signed.checkpoint
    cosigs = tuple(
        (name, dt.datetime.fromtimestamp(ts, dt.UTC) if ts else None)
        for name, ts in signed.cosignatures
    )
    return ReceiptCheck(
        index,
        source,
        True,
        None,
        f"entry {index} is in the log at size {checkpoint.size}, under a checkpoint signed by "
        f"the log key and cosigned by {len(cosigs)} of {len(state.witnesses)} witnesses "
        f"(quorum {state.witness_quorum})",
        checkpoint.size,
        checkpoint.root.hex(),
        cosigs,
    )

"""The member node: its directory, its own verified copy of the log, and catching the hub.

- :mod:`detente.node.config`: ``NodeDir`` (``node.json``, ``party.key``, ``api.token``);
- :mod:`detente.node.store`: ``NodeStore``, the node's database (entries, checkpoints,
  receipts, state snapshot, misbehaviour proofs, peers' checkpoints);
- :mod:`detente.node.sync`: ``Syncer.sync() -> SyncReport``, verifying everything the hub
  serves and re-applying the group rules;
- :mod:`detente.node.gossip`: ``GET /gossip/checkpoint`` and fetching peers' checkpoints;
- :mod:`detente.node.misbehaviour`: proof files and their pure offline checker
  (``detente verify-misbehaviour FILE``).

A typical use::

    node = NodeDir.open(path)
    with NodeStore.open(node.database, node.private_key().private_bytes_raw()) as store, \\
            httpx.Client(timeout=30) as http, Syncer(node, store, http) as syncer:
        report = syncer.sync()
        if report.misbehaviour is not None: ...   # the hub was caught; proof file kept
"""

from __future__ import annotations

from detente.node.config import NodeConfig, NodeDir
from detente.node.misbehaviour import Finding, check_misbehaviour
from detente.node.store import Misbehaviour, NodeStore, StoredReceipt, TrustedCheckpoint
from detente.node.sync import Syncer, SyncReport

__all__ = [
    "Finding",
    "Misbehaviour",
    "NodeConfig",
    "NodeDir",
    "NodeStore",
    "StoredReceipt",
    "SyncReport",
    "Syncer",
    "TrustedCheckpoint",
    "check_misbehaviour",
]

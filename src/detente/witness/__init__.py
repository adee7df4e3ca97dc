"""The witness: checks that each new checkpoint extends the last one it saw, and cosigns it.

c2sp.org/tlog-witness over c2sp.org/tlog-cosignature. :mod:`.policy` is the pure decision,
:mod:`.state` the durable per-origin state, :mod:`.app` the HTTP service and :mod:`.config`
the witness's data directory.
"""

from __future__ import annotations

from detente.witness.app import create_witness_app, witness_app_from_dir
from detente.witness.config import WitnessConfig, add_log, init, load
from detente.witness.policy import AddCheckpointRequest, WitnessState, decide
from detente.witness.state import WitnessStateStore

__all__ = [
    "AddCheckpointRequest",
    "WitnessConfig",
    "WitnessState",
    "WitnessStateStore",
    "add_log",
    "create_witness_app",
    "decide",
    "init",
    "load",
    "witness_app_from_dir",
]

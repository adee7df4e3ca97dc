"""The group rules: a pure state machine over the log, its state, views and norms catalogue.

``genesis(entry)`` founds the state from entry 0, ``apply(state, entry, at=...)`` returns the
state after one more entry or raises ``RejectedError`` with a stable ``rule`` code. No I/O, no
clock: every node replays the same log to the same ``GroupState.digest()``.
"""

from __future__ import annotations

from detente.group.norms import Norm, catalogue, catalogue_norm, search_norms
from detente.group.rules import FUTURE_SKEW, apply, genesis
from detente.group.state import AgreementStatus, GroupState
from detente.group.views import (
    Deadline,
    Duty,
    PingAnswer,
    agreement_status,
    agreements_in_force,
    all_norms,
    contacts,
    deadlines,
    incident_thread,
    open_incidents,
    overdue,
    parties,
    ping_answers,
    signing_keys,
)

__all__ = [
    "FUTURE_SKEW",
    "AgreementStatus",
    "Deadline",
    "Duty",
    "GroupState",
    "Norm",
    "PingAnswer",
    "agreement_status",
    "agreements_in_force",
    "all_norms",
    "apply",
    "catalogue",
    "catalogue_norm",
    "contacts",
    "deadlines",
    "genesis",
    "incident_thread",
    "open_incidents",
    "overdue",
    "parties",
    "ping_answers",
    "search_norms",
    "signing_keys",
]

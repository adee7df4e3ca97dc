"""JSON forms of the read-only views the hub serves (projections of the group state).

The views themselves are ``detente.group.views``; this module only turns them into JSON
values: hashes as hex, keys as base64, times as RFC 3339 UTC, enums as their values.

Sealed content (incidents, replies, consultations and their records): the confidential fields
are ``null`` (an incident's ``evidence`` is ``[]``) and ``"sealed"`` names the ciphertext,
``{"blob": <sha256 hex>, "size": <bytes>, "recipients": [<party ids>]}``; ``"sealed"`` is
``null`` for content in the clear. The hub never sees the plaintext of anything sealed.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from detente.group import views
from detente.group.state import Agreement, GroupState, Incident, Party
from detente.statements.kinds import format_time

__all__ = ["agreements_json", "incident_json", "incidents_json", "parties_json", "state_json"]


def _plain(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def state_json(state: GroupState) -> dict[str, Any]:
    return {
        "group": state.name,
        "title": state.title,
        "size": state.size,
        "digest": state.digest().hex(),
        "log_origin": state.log_origin,
        "log_vkey": state.log_vkey,
        "witnesses": [_plain(w) for w in state.witnesses],
        "witness_quorum": state.witness_quorum,
    }


def _party(party: Party) -> dict[str, Any]:
    return {
        "id": party.id,
        "name": party.name,
        "signing_key": base64.b64encode(party.signing_key).decode(),
        "key_id": party.keys[-1].key_id,
        "encryption_key": party.encryption_key,
        "joined_at": party.joined_at,
        "left_at": party.left_at,
        "keys": [
            {
                "key": base64.b64encode(k.key).decode(),
                "key_id": k.key_id,
                "valid_from": k.valid_from,
                "valid_until": k.valid_until,
            }
            for k in party.keys
        ],
        "contacts": _plain(party.contacts),
    }


def parties_json(state: GroupState) -> list[dict[str, Any]]:
    """Every party that ever joined, by id (``left_at`` set for those who left)."""
    return [_party(p) for p in views.parties(state, include_left=True)]


def _agreement(state: GroupState, agreement: Agreement) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "title": agreement.title,
        "proposer": agreement.proposer,
        "status": state.agreement_status(agreement).value,
        "norms": list(agreement.norms),
        "parties": list(agreement.parties),
        "answer_hours": agreement.answer_hours,
        "proposed_at": agreement.proposed_at,
        "signatures": dict(sorted(agreement.signatures.items())),
        "in_force_at": agreement.in_force_at,
        "withdrawn_by": agreement.withdrawn_by,
        "withdrawn_at": agreement.withdrawn_at,
    }


def agreements_json(state: GroupState) -> list[dict[str, Any]]:
    found = sorted(state.agreements.values(), key=lambda a: a.id)
    return [_agreement(state, a) for a in found]


def _deadlines(state: GroupState, incident: Incident, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {**_plain(d), "late": d.late}
        for d in views.deadlines(state, now)
        if d.ref == incident.id and d.duty is not views.Duty.PING_ACK
    ]


def _incident(state: GroupState, incident: Incident, now: dt.datetime) -> dict[str, Any]:
    data = {f.name: _plain(getattr(incident, f.name)) for f in fields(incident)}
    data.pop("thread")
    data["replies"] = len(incident.thread)
    data["open"] = len(incident.answered) < len(incident.to)
    data["deadlines"] = _deadlines(state, incident, now)
    return data


def incidents_json(state: GroupState, now: dt.datetime) -> list[dict[str, Any]]:
    """Every incident, oldest first, with its open or late deadlines at ``now``."""
    found = sorted(state.incidents.values(), key=lambda i: i.index)
    return [_incident(state, i, now) for i in found]


def incident_json(state: GroupState, incident_id: str, now: dt.datetime) -> dict[str, Any]:
    """One incident with its whole thread; NotFoundError for an unknown id."""
    incident = views.incident_thread(state, incident_id)
    data = _incident(state, incident, now)
    data["thread"] = [_plain(reply) for reply in incident.thread]
    data["consultations"] = [_plain(c) for c in views.consultations_for(state, incident_id)]
    return data

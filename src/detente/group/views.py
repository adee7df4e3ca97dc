"""Read-only projections of a group state for the hub and the nodes.

Every view is a function of the state and, where deadlines are involved, of ``now`` given by
the caller: a view never reads a clock, so "overdue" is reproducible for any moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from detente.errors import NotFoundError
from detente.group.norms import Norm, catalogue
from detente.group.state import (
    Agreement,
    AgreementStatus,
    Consultation,
    GroupState,
    Incident,
    Party,
    PingState,
)
from detente.statements.kinds import Contact, Sealed

__all__ = [
    "Deadline",
    "Duty",
    "PingAnswer",
    "agreement",
    "agreement_status",
    "agreements_in_force",
    "all_norms",
    "consultations_for",
    "contacts",
    "deadlines",
    "incident_thread",
    "norm",
    "open_incidents",
    "overdue",
    "parties",
    "ping_answers",
    "sealed_note",
    "signing_keys",
]


class Duty(StrEnum):
    ACKNOWLEDGE = "acknowledge"  # acknowledge an incident
    ANSWER = "answer"  # answer an incident
    PING_ACK = "ping-ack"  # acknowledge a ping


@dataclass(frozen=True, slots=True)
class Deadline:
    """``party`` owes ``duty`` on ``ref`` (an incident or ping id) by ``due``."""

    party: str
    duty: Duty
    ref: str
    owed_to: str
    due: dt.datetime
    met_at: dt.datetime | None  # issued_at of the statement that met it
    overdue: bool  # not met, and the ``now`` the view was computed for is past ``due``

    @property
    def met(self) -> bool:
        return self.met_at is not None

    @property
    def late(self) -> bool:
        """Met, but after the deadline."""
        return self.met_at is not None and self.met_at > self.due


@dataclass(frozen=True, slots=True)
class PingAnswer:
    """One addressee of a ping: when it acked (if it did) and how long it took."""

    ping: str
    party: str
    sent_at: dt.datetime
    reply_by: dt.datetime
    acked_at: dt.datetime | None

    @property
    def answer_time(self) -> dt.timedelta | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at

    @property
    def in_time(self) -> bool:
        return self.acked_at is not None and self.acked_at <= self.reply_by


def sealed_note(sealed: Sealed) -> str:
    """What a reader without the key sees of sealed content, in words:
    ``sealed to blueland, redland: 3f2a9c81d0e4, 412 bytes`` (the ciphertext's first 12 hex
    digits of SHA-256 and its size)."""
    return (
        f"sealed to {', '.join(sealed.recipients)}: {sealed.blob.hex()[:12]}, {sealed.size} bytes"
    )


def signing_keys(state: GroupState) -> dict[str, bytes]:
    """The current signing key of every party that may speak, by keyid."""
    return {p.keys[-1].key_id: p.signing_key for p in state.parties.values() if not p.left}


def parties(state: GroupState, *, include_left: bool = False) -> tuple[Party, ...]:
    """The parties by id: current members, or everyone who ever joined."""
    found = (p for p in state.parties.values() if include_left or not p.left)
    return tuple(sorted(found, key=lambda p: p.id))


def contacts(state: GroupState, party_id: str) -> tuple[Contact, ...]:
    """The points of contact a party last published."""
    party = state.parties.get(party_id)
    if party is None:
        raise NotFoundError(f"no party {party_id!r}")
    return party.contacts


def all_norms(state: GroupState) -> tuple[Norm, ...]:
    """The catalogue, then the group's own norms by id."""
    group = sorted(state.norms.values(), key=lambda n: n.id)
    return (*catalogue().values(), *group)


def norm(state: GroupState, norm_id: str) -> Norm:
    found = state.norms.get(norm_id) or catalogue().get(norm_id)
    if found is None:
        raise NotFoundError(f"no norm {norm_id!r} in the catalogue or the group")
    return found


def agreement(state: GroupState, agreement_id: str) -> Agreement:
    found = state.agreements.get(agreement_id)
    if found is None:
        raise NotFoundError(f"no agreement {agreement_id!r}")
    return found


def agreement_status(state: GroupState, agreement_id: str) -> AgreementStatus:
    return state.agreement_status(agreement(state, agreement_id))


def agreements_in_force(state: GroupState) -> tuple[Agreement, ...]:
    """Agreements every listed party signed, none withdrew from and none left, by id."""
    found = (
        a
        for a in state.agreements.values()
        if state.agreement_status(a) is AgreementStatus.IN_FORCE
    )
    return tuple(sorted(found, key=lambda a: a.id))


def incident_thread(state: GroupState, incident_id: str) -> Incident:
    """The incident with its replies in log order (``.thread``)."""
    found = state.incidents.get(incident_id)
    if found is None:
        raise NotFoundError(f"no incident {incident_id!r}")
    return found


def open_incidents(state: GroupState) -> tuple[Incident, ...]:
    """Incidents some addressee has not answered yet, oldest first."""
    found = (i for i in state.incidents.values() if len(i.answered) < len(i.to))
    return tuple(sorted(found, key=lambda i: i.index))


def consultations_for(state: GroupState, incident_id: str) -> tuple[Consultation, ...]:
    found = (c for c in state.consultations.values() if c.incident == incident_id)
    return tuple(sorted(found, key=lambda c: c.index))


_Duty = tuple[str, Duty, str, str, dt.datetime, dt.datetime | None]


def _incident_duties(incident: Incident) -> Iterator[_Duty]:
    for party in incident.to:
        yield (
            party,
            Duty.ACKNOWLEDGE,
            incident.id,
            incident.author,
            incident.acknowledge_by,
            incident.acknowledged.get(party),
        )
        yield (
            party,
            Duty.ANSWER,
            incident.id,
            incident.author,
            incident.answer_by,
            incident.answered.get(party),
        )


def _ping_duties(ping: PingState) -> Iterator[_Duty]:
    for party in ping.to:
        yield party, Duty.PING_ACK, ping.id, ping.author, ping.reply_by, ping.acks.get(party)


def deadlines(state: GroupState, now: dt.datetime) -> tuple[Deadline, ...]:
    """Every deadline still relevant at ``now``: open ones, and those met late.

    Duties of a party that has left the group are dropped. Sorted by due time.
    """
    duties: list[_Duty] = []
    for incident in state.incidents.values():
        duties.extend(_incident_duties(incident))
    for ping in state.pings.values():
        duties.extend(_ping_duties(ping))
    found = (
        Deadline(party, duty, ref, owed_to, due, met_at, met_at is None and now > due)
        for party, duty, ref, owed_to, due, met_at in duties
        if state.is_member(party) and (met_at is None or met_at > due)
    )
    return tuple(sorted(found, key=lambda d: (d.due, d.party, d.duty.value, d.ref)))


def overdue(state: GroupState, now: dt.datetime) -> tuple[Deadline, ...]:
    """The deadlines nobody met, past at ``now``."""
    return tuple(d for d in deadlines(state, now) if d.overdue)


def ping_answers(state: GroupState, ping_id: str | None = None) -> tuple[PingAnswer, ...]:
    """Each addressee of each ping (or of one), with its answer time; in log order."""
    if ping_id is not None:
        ping = state.pings.get(ping_id)
        if ping is None:
            raise NotFoundError(f"no ping {ping_id!r}")
        pings = [ping]
    else:
        pings = sorted(state.pings.values(), key=lambda p: p.index)
    return tuple(
        PingAnswer(p.id, party, p.issued_at, p.reply_by, p.acks.get(party))
        for p in pings
        for party in p.to
    )

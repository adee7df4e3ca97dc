"""The rules of each statement kind (private to ``detente.group.rules``).

Each handler gets the state before the statement, the signed statement (its envelope
signature by the author's current key already verified, its chain already checked) and the
index the entry will have. It returns the fields of the state that change, or raises
``RejectedError``. Handlers never change anything they are given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, cast

from immutables import Map
from pyrsistent import pvector

from detente.errors import RejectedError, SignatureError
from detente.group.norms import GROUP_FRAMEWORK, Norm, catalogue
from detente.group.state import (
    Admission,
    Agreement,
    AgreementStatus,
    Consultation,
    EncryptionKey,
    GroupState,
    Incident,
    IntelRecord,
    KeyPeriod,
    Meeting,
    Party,
    PingState,
    Reply,
    Sighting,
)
from detente.group.state import (
    _replace as replace,
)
from detente.statements.envelope import key_id, verify_signature
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
    ConsultationRecord,
    ConsultationRequest,
    ContactUpdate,
    IncidentNotify,
    IncidentRespond,
    IntelShare,
    NormPropose,
    PartyAdmit,
    PartyRotateKeys,
    Ping,
    PingAck,
    Purpose,
    Response,
    SightingReport,
)
from detente.statements.payload import SignedStatement

__all__ = ["HANDLERS"]

Changes = dict[str, Any]
Handler = Callable[[GroupState, SignedStatement, int], Changes]

#: Responses that answer an incident (an acknowledgement only acknowledges it).
_ANSWERS = frozenset({Response.DENY, Response.ANSWER, Response.DECLINE, Response.ACTION_TAKEN})


def _addressees(state: GroupState, parties: Iterable[str], author: str, what: str) -> None:
    """Parties named by the author: distinct current members other than the author."""
    seen: set[str] = set()
    for party in parties:
        if party in seen:
            raise RejectedError("duplicate-party", f"{what} names {party} twice")
        seen.add(party)
        if party == author:
            raise RejectedError("self-addressed", f"{what} names its own author {author}")
        if not state.is_member(party):
            raise RejectedError("not-a-member", f"{what} names {party}, not a member of the group")


def _without(mapping: Map[str, Admission], key: str) -> Map[str, Admission]:
    return mapping.delete(key) if key in mapping else mapping


def _norm_exists(state: GroupState, norm_id: str) -> bool:
    return norm_id in state.norms or norm_id in catalogue()


def _party_admit(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = signed.statement.author
    keys = cast(PartyAdmit, signed.statement.body).party
    if keys.id in state.parties:
        raise RejectedError("party-exists", f"{keys.id} is or was already a party")
    if keys.signing_key in state.key_owners:
        raise RejectedError(
            "key-in-use", f"key {key_id(keys.signing_key)} belongs to another party"
        )
    pending = state.admissions.get(keys.id)
    if pending is None:
        pending = Admission(keys.id, keys.name, keys.signing_key, keys.encryption_key, ())
    elif (pending.name, pending.signing_key, pending.encryption_key) != (
        keys.name,
        keys.signing_key,
        keys.encryption_key,
    ):
        raise RejectedError(
            "admission-mismatch",
            f"earlier votes to admit {keys.id} were for other keys; votes must be identical",
        )
    if author in pending.voters:
        raise RejectedError("already-voted", f"{author} already voted to admit {keys.id}")
    pending = replace(pending, voters=(*pending.voters, author))
    votes = sum(1 for voter in pending.voters if state.is_member(voter))
    if votes < state.admission_quorum:
        return {"admissions": state.admissions.set(keys.id, pending)}
    party = Party(
        id=keys.id,
        name=keys.name,
        keys=(KeyPeriod(keys.signing_key, key_id(keys.signing_key), index),),
        encryption_keys=(EncryptionKey(keys.encryption_key, index),),
        joined_at=index,
    )
    return {
        "admissions": _without(state.admissions, keys.id),
        "parties": state.parties.set(keys.id, party),
        "key_owners": state.key_owners.set(keys.signing_key, keys.id),
    }


def _party_rotate_keys(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = state.parties[signed.statement.author]
    body = cast(PartyRotateKeys, signed.statement.body)
    if body.signing_key in state.key_owners:
        raise RejectedError(
            "key-in-use", f"key {key_id(body.signing_key)} is or was already in use"
        )
    try:
        verify_signature(signed.envelope, body.signing_key)
    except SignatureError as exc:
        raise RejectedError(
            "rotate-unsigned", f"a key rotation must also be signed by the new key: {exc}"
        ) from exc
    closed = replace(author.keys[-1], valid_until=index)
    party = replace(
        author,
        keys=(
            *author.keys[:-1],
            closed,
            KeyPeriod(body.signing_key, key_id(body.signing_key), index + 1),
        ),
        encryption_keys=(*author.encryption_keys, EncryptionKey(body.encryption_key, index + 1)),
    )
    return {
        "parties": state.parties.set(author.id, party),
        "key_owners": state.key_owners.set(body.signing_key, author.id),
    }


def _party_leave(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = state.parties[signed.statement.author]
    return {"parties": state.parties.set(author.id, replace(author, left_at=index))}


def _contact_update(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    author = state.parties[statement.author]
    body = cast(ContactUpdate, statement.body)
    party = replace(author, contacts=body.contacts, contacts_updated_at=statement.issued_at)
    return {"parties": state.parties.set(author.id, party)}


def _norm_propose(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    body = cast(NormPropose, signed.statement.body)
    if _norm_exists(state, body.id):
        raise RejectedError("duplicate-norm", f"norm {body.id} already exists")
    if len(set(body.provenance)) != len(body.provenance):
        raise RejectedError("duplicate-norm", f"norm {body.id} lists a provenance twice")
    for source in body.provenance:
        if not _norm_exists(state, source):
            raise RejectedError("unknown-norm", f"provenance {source} is not a known norm")
    norm = Norm(
        id=body.id,
        framework=GROUP_FRAMEWORK,
        number=body.id,
        title=body.title,
        paraphrase=body.text,
        source=f"proposed by {signed.statement.author} in entry {index}",
        status="group",
        provenance=body.provenance,
    )
    return {"norms": state.norms.set(body.id, norm)}


def _agreement_propose(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = signed.statement.author
    body = cast(AgreementPropose, signed.statement.body)
    if body.id in state.agreements:
        raise RejectedError("duplicate-agreement", f"agreement {body.id} already exists")
    if author not in body.parties:
        raise RejectedError(
            "proposer-not-party", f"the proposer {author} must be a party to {body.id}"
        )
    if len(set(body.parties)) != len(body.parties):
        raise RejectedError("duplicate-party", f"agreement {body.id} lists a party twice")
    for party in body.parties:
        if not state.is_member(party):
            raise RejectedError("not-a-member", f"{party} is not a member of the group")
    if len(set(body.norms)) != len(body.norms):
        raise RejectedError("duplicate-norm", f"agreement {body.id} lists a norm twice")
    for norm in body.norms:
        if not _norm_exists(state, norm):
            raise RejectedError("unknown-norm", f"agreement {body.id} names unknown norm {norm}")
    agreement = Agreement(
        id=body.id,
        title=body.title,
        proposer=author,
        norms=body.norms,
        parties=body.parties,
        answer_hours=body.answer_hours,
        proposed_at=index,
        signatures=Map({author: index}),
        in_force_at=index if len(body.parties) == 1 else None,
    )
    return {"agreements": state.agreements.set(body.id, agreement)}


def _agreement(state: GroupState, agreement_id: str) -> Agreement:
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise RejectedError("unknown-agreement", f"there is no agreement {agreement_id}")
    return agreement


def _agreement_sign(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = signed.statement.author
    agreement = _agreement(state, cast(AgreementSign, signed.statement.body).agreement)
    if author not in agreement.parties:
        raise RejectedError("not-a-party", f"{author} is not a party to {agreement.id}")
    if author in agreement.signatures:
        raise RejectedError("already-signed", f"{author} already signed {agreement.id}")
    status = state.agreement_status(agreement)
    if status is AgreementStatus.WITHDRAWN:
        raise RejectedError(
            "agreement-withdrawn", f"{agreement.withdrawn_by} withdrew from {agreement.id}"
        )
    if status is AgreementStatus.LAPSED:
        raise RejectedError("agreement-lapsed", f"a party to {agreement.id} left the group")
    signatures = agreement.signatures.set(author, index)
    complete = len(signatures) == len(agreement.parties)
    updated = replace(agreement, signatures=signatures, in_force_at=index if complete else None)
    return {"agreements": state.agreements.set(agreement.id, updated)}


def _agreement_withdraw(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    author = signed.statement.author
    agreement = _agreement(state, cast(AgreementWithdraw, signed.statement.body).agreement)
    if author not in agreement.signatures:
        raise RejectedError("not-a-signer", f"{author} has not signed {agreement.id}")
    if agreement.withdrawn_by is not None:
        raise RejectedError(
            "agreement-withdrawn", f"{agreement.withdrawn_by} already withdrew from {agreement.id}"
        )
    updated = replace(agreement, withdrawn_by=author, withdrawn_at=index)
    return {"agreements": state.agreements.set(agreement.id, updated)}


def _incident_notify(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    author = statement.author
    body = cast(IncidentNotify, statement.body)
    if body.id in state.incidents:
        raise RejectedError("duplicate-incident", f"incident {body.id} already exists")
    _addressees(state, body.to, author, f"incident {body.id}")
    agreement = None if body.agreement is None else _agreement(state, body.agreement)
    if body.purpose is Purpose.ALLEGATION:
        if agreement is None:
            raise RejectedError(
                "agreement-not-in-force", "an allegation must name the agreement it invokes"
            )
        if state.agreement_status(agreement) is not AgreementStatus.IN_FORCE:
            raise RejectedError(
                "agreement-not-in-force", f"agreement {agreement.id} is not in force"
            )
        for party in (author, *body.to):
            if party not in agreement.parties:
                raise RejectedError("not-a-party", f"{party} is not a party to {agreement.id}")
        if not body.norms:
            raise RejectedError("norm-not-in-force", "an allegation must name the norms broken")
        for norm in body.norms:
            if norm not in agreement.norms:
                raise RejectedError(
                    "norm-not-in-force", f"norm {norm} is not one of agreement {agreement.id}'s"
                )
    else:
        for norm in body.norms:
            if not _norm_exists(state, norm):
                raise RejectedError("unknown-norm", f"incident {body.id} names unknown norm {norm}")
    issued = statement.issued_at
    if body.answer_by is not None:
        answer_by = body.answer_by
    elif agreement is not None and agreement.answer_hours is not None:
        answer_by = issued + dt.timedelta(hours=agreement.answer_hours)
    else:
        answer_by = issued + dt.timedelta(hours=state.answer_hours)
    if answer_by <= issued:
        raise RejectedError(
            "bad-deadline", f"answer_by {answer_by.isoformat()} is not after issued_at"
        )
    incident = Incident(
        id=body.id,
        author=author,
        index=index,
        purpose=body.purpose,
        to=body.to,
        title=body.title,
        summary=body.summary,
        severity=body.severity,
        tlp=statement.tlp,
        agreement=body.agreement,
        norms=body.norms,
        evidence=body.evidence or (),
        issued_at=issued,
        acknowledge_by=issued + dt.timedelta(hours=state.acknowledge_hours),
        answer_by=answer_by,
        acknowledged=Map(),
        answered=Map(),
        thread=pvector(),
        sealed=body.sealed,
    )
    return {"incidents": state.incidents.set(body.id, incident)}


def _incident(state: GroupState, incident_id: str) -> Incident:
    incident = state.incidents.get(incident_id)
    if incident is None:
        raise RejectedError("unknown-incident", f"there is no incident {incident_id}")
    return incident


def _incident_respond(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(IncidentRespond, statement.body)
    incident = _incident(state, body.incident)
    if statement.author not in incident.to:
        raise RejectedError(
            "not-addressee", f"{statement.author} is not addressed by incident {incident.id}"
        )
    reply = Reply(
        index, statement.author, body.response, body.text, statement.issued_at, body.sealed
    )
    acknowledged, answered = incident.acknowledged, incident.answered
    if body.response is not Response.REQUEST_INFO and statement.author not in acknowledged:
        acknowledged = acknowledged.set(statement.author, statement.issued_at)
    if body.response in _ANSWERS and statement.author not in answered:
        answered = answered.set(statement.author, statement.issued_at)
    updated = replace(
        incident,
        acknowledged=acknowledged,
        answered=answered,
        thread=incident.thread.append(reply),
    )
    return {"incidents": state.incidents.set(incident.id, updated)}


def _consultation_request(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(ConsultationRequest, statement.body)
    if body.id in state.consultations:
        raise RejectedError("duplicate-consultation", f"consultation {body.id} already exists")
    _addressees(state, body.with_parties, statement.author, f"consultation {body.id}")
    if body.incident is not None:
        incident = _incident(state, body.incident)
        if statement.author != incident.author and statement.author not in incident.to:
            raise RejectedError(
                "not-involved", f"{statement.author} is not involved in incident {incident.id}"
            )
    consultation = Consultation(
        id=body.id,
        author=statement.author,
        index=index,
        with_parties=body.with_parties,
        agenda=body.agenda,
        incident=body.incident,
        proposed_times=body.proposed_times,
        issued_at=statement.issued_at,
        records=pvector(),
        sealed=body.sealed,
    )
    return {"consultations": state.consultations.set(body.id, consultation)}


def _consultation_record(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(ConsultationRecord, statement.body)
    consultation = state.consultations.get(body.consultation)
    if consultation is None:
        raise RejectedError("unknown-consultation", f"there is no consultation {body.consultation}")
    invited = {consultation.author, *consultation.with_parties}
    if statement.author not in invited:
        raise RejectedError(
            "not-a-participant", f"{statement.author} is not invited to {consultation.id}"
        )
    for party in body.participants:
        if party not in invited:
            raise RejectedError(
                "not-a-participant", f"{party} was not invited to {consultation.id}"
            )
    if body.held_at > statement.issued_at:
        raise RejectedError(
            "future-meeting", "a consultation can only be recorded after it was held"
        )
    meeting = Meeting(
        index,
        statement.author,
        body.held_at,
        body.participants,
        body.summary,
        body.outcome,
        body.sealed,
    )
    updated = replace(consultation, records=consultation.records.append(meeting))
    return {"consultations": state.consultations.set(consultation.id, updated)}


def _sighting_report(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(SightingReport, statement.body)
    if body.incident is not None:
        _incident(state, body.incident)
    if body.first_seen and body.last_seen and body.first_seen > body.last_seen:
        raise RejectedError("bad-interval", "first_seen is after last_seen")
    if not body.observed and body.count:
        raise RejectedError("bad-count", f"not observed, yet seen {body.count} times")
    sighting = Sighting(
        index=index,
        author=statement.author,
        incident=body.incident,
        indicators=body.indicators or (),
        observed=body.observed,
        first_seen=body.first_seen,
        last_seen=body.last_seen,
        count=body.count,
        issued_at=statement.issued_at,
        sealed=body.sealed,
    )
    return {"sightings": state.sightings.append(sighting)}


def _intel_share(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(IntelShare, statement.body)
    _addressees(state, body.to, statement.author, "intel share")
    record = IntelRecord(
        index=index,
        author=statement.author,
        blob=body.blob,
        size=body.size,
        media_type=body.media_type,
        title=body.title,
        to=body.to,
        tlp=statement.tlp,
        pap=statement.pap,
        issued_at=statement.issued_at,
        derived_from=body.derived_from,
        sealed=body.sealed,
    )
    return {"intel": state.intel.append(record)}


def _ping(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(Ping, statement.body)
    if body.id in state.pings:
        raise RejectedError("duplicate-ping", f"ping {body.id} already exists")
    _addressees(state, body.to, statement.author, f"ping {body.id}")
    ping = PingState(
        id=body.id,
        author=statement.author,
        index=index,
        to=body.to,
        role=body.role,
        issued_at=statement.issued_at,
        reply_by=statement.issued_at + dt.timedelta(minutes=body.reply_within_minutes),
        acks=Map(),
    )
    return {"pings": state.pings.set(body.id, ping)}


def _ping_ack(state: GroupState, signed: SignedStatement, index: int) -> Changes:
    statement = signed.statement
    body = cast(PingAck, statement.body)
    ping = state.pings.get(body.ping)
    if ping is None:
        raise RejectedError("unknown-ping", f"there is no ping {body.ping}")
    if statement.author not in ping.to:
        raise RejectedError("not-addressee", f"{statement.author} is not addressed by {ping.id}")
    if statement.author in ping.acks:
        raise RejectedError("already-acked", f"{statement.author} already acked {ping.id}")
    updated = replace(ping, acks=ping.acks.set(statement.author, statement.issued_at))
    return {"pings": state.pings.set(ping.id, updated)}


HANDLERS: dict[str, Handler] = {
    "party.admit": _party_admit,
    "party.rotate-keys": _party_rotate_keys,
    "party.leave": _party_leave,
    "contact.update": _contact_update,
    "norm.propose": _norm_propose,
    "agreement.propose": _agreement_propose,
    "agreement.sign": _agreement_sign,
    "agreement.withdraw": _agreement_withdraw,
    "incident.notify": _incident_notify,
    "incident.respond": _incident_respond,
    "consultation.request": _consultation_request,
    "consultation.record": _consultation_record,
    "sighting.report": _sighting_report,
    "intel.share": _intel_share,
    "ping": _ping,
    "ping.ack": _ping_ack,
}

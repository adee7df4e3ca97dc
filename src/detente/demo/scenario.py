"""The founding scenario's words: who says what, as statement bodies (pure, no I/O).

Blueland and Redland found a group; Blueland proposes the group norms and the "Election
integrity accord"; Redland signs, so the accord is in force; Blueland alleges a violation with
evidence and a 72-hour deadline; Redland denies; Blueland requests a consultation; Redland
records it; Blueland pings Redland's technical point of contact and Redland's node answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    ConsultationRecord,
    ConsultationRequest,
    Contact,
    ContactRole,
    ContactUpdate,
    DeadlinePolicy,
    Evidence,
    GroupGenesis,
    IncidentNotify,
    IncidentRespond,
    NormPropose,
    PartyKeys,
    Ping,
    Purpose,
    Response,
    Severity,
    WitnessKey,
)

__all__ = [
    "ACCORD",
    "BLUELAND",
    "CONSULTATION",
    "EVIDENCE_TEXT",
    "GROUP",
    "INCIDENT",
    "NORMS",
    "PING",
    "REDLAND",
    "accord",
    "allegation",
    "consultation_record",
    "consultation_request",
    "contacts",
    "denial",
    "genesis_body",
    "norm_proposals",
    "ping",
    "signature",
    "timeline_evidence",
]

BLUELAND = "blueland"
REDLAND = "redland"
GROUP = "blue-red-wg"
ACCORD = "election-integrity-accord"
INCIDENT = "campaign-mail-leak"
CONSULTATION = "consultation-1"
PING = "ping-1"

#: Group norms: (id, title, text, provenance in the shipped catalogue).
NORMS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "WG-NO-OFFICIALS-INTRUSION",
        "No intrusion into elected officials' communications",
        "Parties do not access the email, messaging or telephone communications of the other "
        "party's elected officials and candidates.",
        ("PARIS-P3",),
    ),
    (
        "WG-NO-ELECTION-INTERFERENCE",
        "No interference with election infrastructure or campaigns",
        "Parties do not disrupt, tamper with or gain unauthorised access to the systems used "
        "to register voters, cast and count votes, publish results or run campaigns.",
        ("GCSC-N2", "PARIS-P3"),
    ),
    (
        "WG-NO-HACK-AND-LEAK",
        "No hack-and-leak of stolen material",
        "Parties do not publish, or help publish, material obtained by intrusion in order to "
        "influence an election in the other party.",
        ("PARIS-P3",),
    ),
)

EVIDENCE_TEXT = (
    b"Intrusion timeline (demo evidence)\n"
    b"2026-10-02 spear-phishing of three campaign staff\n"
    b"2026-10-09 mailbox exports staged on 203.0.113.7\n"
    b"2026-10-20 first documents published on a leak site\n"
)


def genesis_body(
    parties: tuple[PartyKeys, ...], log_origin: str, log_vkey: str, witness: WitnessKey
) -> GroupGenesis:
    return GroupGenesis(
        name="Blueland-Redland cyber working group",
        description="A verifiable channel for election-security incidents between two states.",
        parties=parties,
        log_origin=log_origin,
        log_vkey=log_vkey,
        witnesses=(witness,),
        witness_quorum=1,
        admission_quorum=2,
        deadlines=DeadlinePolicy(acknowledge_hours=24, answer_hours=72),
    )


def contacts(party: str) -> ContactUpdate:
    name = party.capitalize()
    return ContactUpdate(
        contacts=(
            Contact(role=ContactRole.DIPLOMATIC, name=f"{name} foreign ministry cyber desk"),
            Contact(
                role=ContactRole.TECHNICAL,
                name=f"{name} national CERT duty officer",
                email=f"cert@{party}.example",
            ),
        )
    )


def norm_proposals() -> list[NormPropose]:
    return [NormPropose(id=i, title=t, text=x, provenance=p) for i, t, x, p in NORMS]


def accord() -> AgreementPropose:
    return AgreementPropose(
        id=ACCORD,
        title="Election integrity accord",
        norms=tuple(n[0] for n in NORMS),
        parties=(BLUELAND, REDLAND),
        answer_hours=72,
    )


def signature() -> AgreementSign:
    return AgreementSign(agreement=ACCORD)


def timeline_evidence() -> Evidence:
    """The reference to EVIDENCE_TEXT held out of band (no blob on the hub)."""
    return Evidence(
        sha256=hashlib.sha256(EVIDENCE_TEXT).digest(),
        name="intrusion-timeline.txt",
        media_type="text/plain",
        size=len(EVIDENCE_TEXT),
    )


def allegation(issued_at: dt.datetime, evidence: Evidence | None = None) -> IncidentNotify:
    """Blueland's allegation; ``evidence``: the timeline's reference (default: out of band)."""
    return IncidentNotify(
        id=INCIDENT,
        purpose=Purpose.ALLEGATION,
        to=(REDLAND,),
        title="Leak of campaign email stolen from Blueland's governing party",
        summary="Mail stolen from the campaign's servers was published on a leak site; the "
        "intrusion used infrastructure we attribute to a unit in Redland.",
        severity=Severity.HIGH,
        agreement=ACCORD,
        norms=("WG-NO-ELECTION-INTERFERENCE", "WG-NO-HACK-AND-LEAK"),
        evidence=(evidence or timeline_evidence(),),
        answer_by=issued_at + dt.timedelta(hours=72),
    )


def denial() -> IncidentRespond:
    return IncidentRespond(
        incident=INCIDENT,
        response=Response.DENY,
        text="Redland had no part in this activity and rejects the allegation.",
    )


def consultation_request(when: dt.datetime) -> ConsultationRequest:
    return ConsultationRequest(
        id=CONSULTATION,
        with_parties=(REDLAND,),
        agenda="Review the evidence for the allegation and Redland's denial.",
        incident=INCIDENT,
        proposed_times=(when,),
    )


def consultation_record(held_at: dt.datetime) -> ConsultationRecord:
    return ConsultationRecord(
        consultation=CONSULTATION,
        held_at=held_at,
        participants=(BLUELAND, REDLAND),
        summary="Blueland presented the intrusion timeline; Redland maintained its denial and "
        "asked for the network indicators.",
        outcome="Blueland will share indicators under TLP:AMBER; the parties meet again in "
        "two weeks.",
    )


def ping() -> Ping:
    return Ping(id=PING, to=(REDLAND,), role=ContactRole.TECHNICAL, reply_within_minutes=60)

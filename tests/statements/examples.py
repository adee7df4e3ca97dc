"""Example statement bodies, one valid body (and some invalid ones) for every kind.

Shared test data: the group-rules tests import it too (``from examples import VALID_BODIES``
when tests/statements is on sys.path, or ``from statements.examples import ...`` from tests/).
Keep the names and values stable; add, do not change.

Keys are derived from fixed seeds (Ed25519 is deterministic), so the entries made from these
bodies are the same bytes on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.statements import KINDS, Body, Statement, Tlp
from detente.statements.envelope import Envelope, Signature
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
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
    Indicator,
    IntelShare,
    NormPropose,
    PartyAdmit,
    PartyKeys,
    PartyLeave,
    PartyRotateKeys,
    Ping,
    PingAck,
    Purpose,
    Response,
    Severity,
    SightingReport,
    WitnessKey,
)

__all__ = [
    "AGE",
    "FOUNDERS",
    "GROUP",
    "INVALID_BODIES",
    "ISSUED_AT",
    "NEWCOMER",
    "VALID_BODIES",
    "forged",
    "party_key",
    "public_key",
    "statement",
]

GROUP = "cbm-east"
ISSUED_AT = dt.datetime(2026, 11, 27, 21, 0, 0, tzinfo=dt.UTC)
#: The founding parties, in genesis order (the first is the genesis author).
FOUNDERS = ("ministry-a", "ministry-b", "ministry-c")
#: A party admitted after genesis.
NEWCOMER = "ministry-d"
#: Syntactically valid age recipients (58 Bech32 characters after ``age1``).
AGE = {
    "ministry-a": "age1" + "q" * 58,
    "ministry-b": "age1" + "p" * 58,
    "ministry-c": "age1" + "z" * 58,
    "ministry-d": "age1" + "r" * 58,
    "ministry-a/2": "age1" + "y" * 58,
}


def party_key(name: str) -> Ed25519PrivateKey:
    """The fixed test signing key of a party (``"ministry-a/2"`` names a rotated key)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def public_key(name: str) -> bytes:
    return party_key(name).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def forged(entry: bytes) -> bytes:
    """``entry`` (an envelope with one signature) with one bit of its signature flipped."""
    envelope = Envelope.from_bytes(entry)
    [signature] = envelope.signatures
    sig = bytes([signature.sig[0] ^ 1]) + signature.sig[1:]
    return Envelope(
        envelope.payload_type, envelope.payload, (Signature(signature.keyid, sig),)
    ).to_bytes()


def _party(name: str) -> PartyKeys:
    return PartyKeys(
        id=name,
        name=f"Ministry {name[-1].upper()}",
        signing_key=public_key(name),
        encryption_key=AGE[name],
    )


_BLOB = hashlib.sha256(b"evidence").digest()

#: One valid body per kind, as body models.
VALID_BODIES: dict[str, Body] = {
    "group.genesis": GroupGenesis(
        name="Eastern cyber CBM group",
        description="Confidence building among three ministries",
        parties=tuple(_party(p) for p in FOUNDERS),
        log_origin="detente.example/cbm-east",
        log_vkey="detente.example/cbm-east+0a1b2c3d+AbCdEf",
        witnesses=(WitnessKey(vkey="witness.example+01020304+AQID", url="https://w.example"),),
        witness_quorum=1,
        admission_quorum=2,
        deadlines=DeadlinePolicy(acknowledge_hours=24, answer_hours=72),
    ),
    "party.admit": PartyAdmit(party=_party(NEWCOMER)),
    "party.rotate-keys": PartyRotateKeys(
        signing_key=public_key("ministry-a/2"), encryption_key=AGE["ministry-a/2"]
    ),
    "party.leave": PartyLeave(reason="Mandate ended"),
    "contact.update": ContactUpdate(
        contacts=(
            Contact(
                role=ContactRole.TECHNICAL,
                name="CERT duty officer",
                email="cert@ministry-a.example",
                phone="+1 555 0100",
            ),
        )
    ),
    "norm.propose": NormPropose(
        id="GROUP-N1",
        title="Notify within 24 hours",
        text="Parties notify each other of incidents affecting critical infrastructure.",
        provenance=("GGE-13c", "OSCE-CBM8"),
    ),
    "agreement.propose": AgreementPropose(
        id="hotline-2026",
        title="Hotline agreement",
        norms=("GGE-13c", "GROUP-N1"),
        parties=FOUNDERS,
        answer_hours=48,
    ),
    "agreement.sign": AgreementSign(agreement="hotline-2026"),
    "agreement.withdraw": AgreementWithdraw(agreement="hotline-2026", reason="Superseded"),
    "incident.notify": IncidentNotify(
        id="inc-2026-001",
        purpose=Purpose.REQUEST_FOR_ASSISTANCE,
        to=("ministry-b",),
        title="Scanning from your address space",
        summary="Sustained scanning of our grid operator from addresses you announce.",
        severity=Severity.HIGH,
        agreement="hotline-2026",
        norms=("GGE-13h",),
        evidence=(Evidence(sha256=_BLOB, name="pcap summary", media_type="text/csv", size=1234),),
        answer_by=ISSUED_AT + dt.timedelta(days=3),
    ),
    "incident.respond": IncidentRespond(
        incident="inc-2026-001", response=Response.ACKNOWLEDGE, text="Received, investigating."
    ),
    "consultation.request": ConsultationRequest(
        id="consult-1",
        with_parties=("ministry-b",),
        agenda="Discuss inc-2026-001",
        incident="inc-2026-001",
        proposed_times=(ISSUED_AT + dt.timedelta(days=1),),
    ),
    "consultation.record": ConsultationRecord(
        consultation="consult-1",
        held_at=ISSUED_AT + dt.timedelta(days=1),
        participants=("ministry-a", "ministry-b"),
        summary="Agreed on mitigation steps.",
    ),
    "sighting.report": SightingReport(
        incident="inc-2026-001",
        indicators=(Indicator(type="ipv4-addr", value="198.51.100.7"),),
        observed=True,
        first_seen=ISSUED_AT - dt.timedelta(days=2),
        last_seen=ISSUED_AT,
        count=17,
    ),
    "intel.share": IntelShare(
        blob=_BLOB,
        size=4096,
        media_type="application/stix+json;version=2.1",
        title="Scanner infrastructure",
        to=(),
    ),
    "ping": Ping(
        id="ping-1",
        to=("ministry-b", "ministry-c"),
        role=ContactRole.TECHNICAL,
        reply_within_minutes=60,
    ),
    "ping.ack": PingAck(ping="ping-1"),
}

#: Invalid bodies per kind, in wire (JSON object) form: (what is wrong, body).
INVALID_BODIES: dict[str, list[tuple[str, dict[str, Any]]]] = {}


def _wire(kind: str) -> dict[str, Any]:
    return VALID_BODIES[kind].model_dump(mode="json", exclude_none=True)


def _variant(kind: str, why: str, **changes: Any) -> None:
    body = _wire(kind)
    for name, value in changes.items():
        if value is _DROP:
            del body[name]
        else:
            body[name] = value
    INVALID_BODIES.setdefault(kind, []).append((why, body))


_DROP = object()

for _kind in KINDS:
    _variant(_kind, "unknown field", surprise="yes")
_variant("group.genesis", "no founders", parties=[])
_variant("group.genesis", "quorum as a string", admission_quorum="2")
_variant(
    "party.admit", "key too short", party={**_wire("party.admit")["party"], "signing_key": "AAAA"}
)
_variant("party.rotate-keys", "bad age recipient", encryption_key="age1short")
_variant("party.leave", "empty reason", reason="")
_variant("contact.update", "unknown role", contacts=[{"role": "spy", "name": "X"}])
_variant("norm.propose", "lowercase norm id", id="group-n1")
_variant("agreement.propose", "no norms", norms=[])
_variant("agreement.sign", "missing agreement", agreement=_DROP)
_variant("agreement.withdraw", "agreement not a slug", agreement="Hotline 2026")
_variant("incident.notify", "unknown purpose", purpose="threat")
_variant("incident.notify", "answer_by with offset", answer_by="2026-11-30T21:00:00+00:00")
_variant("incident.respond", "unknown response", response="ignore")
_variant("consultation.request", "time with fraction", proposed_times=["2026-11-28T21:00:00.5Z"])
_variant("consultation.record", "no participants", participants=[])
_variant("sighting.report", "observed as int", observed=1)
_variant("sighting.report", "negative count", count=-1)
_variant("intel.share", "wrong media type", media_type="application/json")
_variant("intel.share", "uppercase hex hash", blob=_BLOB.hex().upper())
_variant("ping", "reply window zero", reply_within_minutes=0)
_variant("ping.ack", "ping as a number", ping=1)


def statement(
    kind: str,
    *,
    author: str = "ministry-a",
    seq: int = 1,
    prev: bytes | None = None,
    body: Body | None = None,
    tlp: Tlp = Tlp.GREEN,
) -> Statement:
    """A valid statement of ``kind`` (genesis: seq 0 by the first founder)."""
    if kind == "group.genesis":
        author, seq, prev = FOUNDERS[0], 0, None
    return Statement(
        kind=kind,
        group=GROUP,
        author=author,
        seq=seq,
        prev=prev,
        issued_at=ISSUED_AT,
        tlp=tlp,
        pap=None,
        body=VALID_BODIES[kind] if body is None else body,
    )

"""A reusable scenario builder for the group rules (and the hub's integration test).

Keys are derived from fixed seeds (Ed25519 signing is deterministic), so every entry built
here is the same bytes on every run for the same ``start``. Import it as
``from group.scenario import ...`` with tests/ on sys.path (pytest puts it there: tests/group is a
package, and tests/conftest.py sits in tests/).

``build_seed_scenario(start)`` is the founding story: Blueland and Redland found a group,
Blueland proposes three group norms and the "Election integrity accord", Redland signs,
Blueland alleges a violation with evidence and a 72-hour answer deadline, Redland denies,
Blueland asks for a consultation and records it. Every statement is issued within
``SEED_SPAN`` after ``start``: a live hub judging them with its clock needs ``start`` at least
that long ago (minus the 5-minute allowance).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    Body,
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
    Pap,
    PartyKeys,
    Purpose,
    Response,
    Severity,
    Tlp,
    WitnessKey,
)
from detente.statements.payload import Statement, entry_hash, make_entry

__all__ = [
    "ACCORD",
    "AGE",
    "BLUELAND",
    "GROUP",
    "INCIDENT",
    "NORMS",
    "REDLAND",
    "SEED_SPAN",
    "Chain",
    "build_genesis",
    "build_seed_scenario",
    "party_key",
    "party_keys",
    "public_key",
]

GROUP = "blue-red-hotline"
BLUELAND = "blueland"
REDLAND = "redland"
ACCORD = "election-integrity-accord"
INCIDENT = "inc-election-2026-1"
CONSULTATION = "consult-election-2026-1"
#: The three group norms of the seed scenario, proposed by Blueland.
NORMS = ("WG-NO-OFFICIALS-INTRUSION", "WG-NO-ELECTION-INTERFERENCE", "WG-NO-HACK-AND-LEAK")
SEED_SPAN = dt.timedelta(minutes=10)
#: Syntactically valid age recipients (58 Bech32 characters after ``age1``), per key name.
AGE = {
    "blueland": "age1" + "q" * 58,
    "redland": "age1" + "p" * 58,
    "greenland": "age1" + "z" * 58,
    "yellowland": "age1" + "r" * 58,
    "blueland/2": "age1" + "y" * 58,
    "redland/2": "age1" + "x" * 58,
}


def party_key(name: str) -> Ed25519PrivateKey:
    """The fixed test signing key named ``name`` (``"blueland/2"``: Blueland's second key)."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"detente group test key " + name.encode()).digest()
    )


def public_key(name: str) -> bytes:
    return party_key(name).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def party_keys(party: str, key: str | None = None) -> PartyKeys:
    """The identity of ``party`` with its key ``key`` (default: the party's first key)."""
    key = key or party
    return PartyKeys(
        id=party, name=party.capitalize(), signing_key=public_key(key), encryption_key=AGE[key]
    )


@dataclass
class Chain:
    """Makes entries for a group, keeping each author's seq and prev (a test helper, mutable).

    ``make(..., advance=False)`` builds an entry without moving the author's chain, for
    statements a test expects to be refused. ``seq``/``prev`` override the chain.
    """

    group: str = GROUP
    heads: dict[str, tuple[int, bytes | None]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # party -> current key name

    def genesis(self, body: GroupGenesis, at: dt.datetime, signers: Sequence[str]) -> bytes:
        founder = body.parties[0].id
        statement = Statement(
            "group.genesis", self.group, founder, 0, None, at, Tlp.GREEN, None, body
        )
        entry = make_entry(statement, [party_key(s) for s in signers]).entry
        self.heads[founder] = (0, None)  # the founder's seq 1 carries no prev
        for party in body.parties:
            self.keys.setdefault(party.id, party.id)
        return entry

    def make(
        self,
        author: str,
        body: Body,
        at: dt.datetime,
        *,
        kind: str | None = None,
        signers: Sequence[str] | None = None,
        seq: int | None = None,
        prev: bytes | str | None = "chain",
        tlp: Tlp = Tlp.GREEN,
        pap: Pap | None = None,
        group: str | None = None,
        advance: bool = True,
    ) -> bytes:
        last_seq, last_hash = self.heads.get(author, (0, None))
        statement = Statement(
            kind=kind or _KIND_OF[type(body)],
            group=group or self.group,
            author=author,
            seq=last_seq + 1 if seq is None else seq,
            prev=last_hash if prev == "chain" else prev,  # type: ignore[arg-type]
            issued_at=at,
            tlp=tlp,
            pap=pap,
            body=body,
        )
        names = signers if signers is not None else [self.keys.get(author, author)]
        entry = make_entry(statement, [party_key(n) for n in names]).entry
        if advance:
            self.heads[author] = (statement.seq, entry_hash(entry))
        return entry


def _kinds() -> dict[type[Body], str]:
    from detente.statements.kinds import BODY_TYPES

    return {body_type: kind for kind, body_type in BODY_TYPES.items()}


_KIND_OF = _kinds()


def build_genesis(
    start: dt.datetime,
    *,
    parties: Sequence[str] = (BLUELAND, REDLAND),
    log_origin: str = "detente.example/blue-red-hotline",
    log_vkey: str = "detente.example/blue-red-hotline+0a1b2c3d+AbCdEf",
    witnesses: Sequence[WitnessKey] = (),
    witness_quorum: int = 0,
    admission_quorum: int = 2,
) -> GroupGenesis:
    return GroupGenesis(
        name="Blueland-Redland cyber hotline",
        description="A verifiable channel for election-security incidents",
        parties=tuple(party_keys(p) for p in parties),
        log_origin=log_origin,
        log_vkey=log_vkey,
        witnesses=tuple(witnesses),
        witness_quorum=witness_quorum,
        admission_quorum=admission_quorum,
        deadlines=DeadlinePolicy(acknowledge_hours=24, answer_hours=72),
    )


def build_seed_scenario(
    start: dt.datetime,
    *,
    log_origin: str = "detente.example/blue-red-hotline",
    log_vkey: str = "detente.example/blue-red-hotline+0a1b2c3d+AbCdEf",
    witnesses: Sequence[WitnessKey] = (),
    witness_quorum: int = 0,
) -> list[bytes]:
    """The seed scenario's entries, genesis first; ``start`` is a UTC time in whole seconds."""
    chain = Chain()
    minute = dt.timedelta(minutes=1)
    genesis = build_genesis(
        start,
        log_origin=log_origin,
        log_vkey=log_vkey,
        witnesses=witnesses,
        witness_quorum=witness_quorum,
    )
    entries = [chain.genesis(genesis, start, [BLUELAND, REDLAND])]
    for party in (BLUELAND, REDLAND):
        contacts = ContactUpdate(
            contacts=(
                Contact(role=ContactRole.DIPLOMATIC, name=f"{party.capitalize()} MFA desk"),
                Contact(
                    role=ContactRole.TECHNICAL,
                    name=f"{party.capitalize()} national CERT",
                    email=f"cert@{party}.example",
                ),
            )
        )
        entries.append(chain.make(party, contacts, start + minute))
    norm_texts = (
        (
            "No intrusion into elected officials' communications",
            "Parties do not access the email, messaging or telephone communications of the "
            "other party's elected officials and candidates.",
            ("PARIS-P3",),
        ),
        (
            "No interference with election infrastructure or campaigns",
            "Parties do not disrupt, tamper with or gain unauthorised access to the systems "
            "used to register voters, cast and count votes, publish results or run campaigns.",
            ("GCSC-N2", "PARIS-P3"),
        ),
        (
            "No hack-and-leak of stolen material",
            "Parties do not publish, or help publish, material obtained by intrusion in order "
            "to influence an election in the other party.",
            ("PARIS-P3",),
        ),
    )
    for norm_id, (title, text, provenance) in zip(NORMS, norm_texts, strict=True):
        body = NormPropose(id=norm_id, title=title, text=text, provenance=provenance)
        entries.append(chain.make(BLUELAND, body, start + 2 * minute))
    accord = AgreementPropose(
        id=ACCORD,
        title="Election integrity accord",
        norms=NORMS,
        parties=(BLUELAND, REDLAND),
        answer_hours=72,
    )
    entries.append(chain.make(BLUELAND, accord, start + 3 * minute))
    entries.append(chain.make(REDLAND, AgreementSign(agreement=ACCORD), start + 4 * minute))
    alleged_at = start + 5 * minute
    allegation = IncidentNotify(
        id=INCIDENT,
        purpose=Purpose.ALLEGATION,
        to=(REDLAND,),
        title="Leak of campaign email stolen from Blueland's governing party",
        summary="Mail stolen from the campaign's servers was published on a leak site; the "
        "intrusion used infrastructure we attribute to a unit in Redland.",
        severity=Severity.HIGH,
        agreement=ACCORD,
        norms=("WG-NO-ELECTION-INTERFERENCE", "WG-NO-HACK-AND-LEAK"),
        evidence=(
            Evidence(
                sha256=hashlib.sha256(b"seed evidence: intrusion timeline").digest(),
                name="Intrusion timeline",
                media_type="application/pdf",
                size=48_213,
            ),
            Evidence(
                sha256=hashlib.sha256(b"seed evidence: network indicators").digest(),
                name="Network indicators (STIX 2.1)",
                media_type="application/stix+json;version=2.1",
                size=9_730,
            ),
        ),
        answer_by=alleged_at + dt.timedelta(hours=72),
    )
    # GREEN: the seed scenario is in the clear (sealed statements are tested on their own).
    entries.append(chain.make(BLUELAND, allegation, alleged_at, tlp=Tlp.GREEN))
    denial = IncidentRespond(
        incident=INCIDENT,
        response=Response.DENY,
        text="Redland had no part in this activity and rejects the allegation.",
    )
    entries.append(chain.make(REDLAND, denial, start + 6 * minute, tlp=Tlp.GREEN))
    request = ConsultationRequest(
        id=CONSULTATION,
        with_parties=(REDLAND,),
        agenda="Review the evidence for the allegation and Redland's denial.",
        incident=INCIDENT,
        proposed_times=(start + 7 * minute,),
    )
    entries.append(chain.make(BLUELAND, request, start + 7 * minute))
    record = ConsultationRecord(
        consultation=CONSULTATION,
        held_at=start + 8 * minute,
        participants=(BLUELAND, REDLAND),
        summary="Experts compared the indicators; Redland will look into the named servers.",
        outcome="Follow-up exchange of technical data agreed.",
    )
    entries.append(chain.make(BLUELAND, record, start + 9 * minute))
    return entries

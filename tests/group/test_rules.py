"""The group rules, one test per rule: accepted statements, and refusals with their rule code.

Every refusal also checks that the old state is the same object with the same digest
(``World.refuse_entry``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from detente.errors import MalformedError, RejectedError
from detente.group import AgreementStatus, apply, genesis, views
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
    ConsultationRecord,
    ConsultationRequest,
    Contact,
    ContactRole,
    ContactUpdate,
    Evidence,
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
from group.scenario import AGE, Chain, build_genesis, party_keys, public_key
from group.world import START, World

BLUE, RED, GREEN = "blueland", "redland", "greenland"


# -- helpers --------------------------------------------------------------------------------


def _norm(norm_id: str = "WG-NO-HACK-AND-LEAK", provenance: tuple[str, ...] = ("PARIS-P3",)):
    return NormPropose(id=norm_id, title="No hack and leak", text="Do not.", provenance=provenance)


def _accord(
    agreement_id: str = "accord",
    parties: tuple[str, ...] = (BLUE, RED),
    norms: tuple[str, ...] = ("PARIS-P3", "GCSC-N2"),
    answer_hours: int | None = None,
) -> AgreementPropose:
    return AgreementPropose(
        id=agreement_id, title="Accord", norms=norms, parties=parties, answer_hours=answer_hours
    )


def _notify(
    incident_id: str = "inc-1",
    *,
    purpose: Purpose = Purpose.ALLEGATION,
    to: tuple[str, ...] = (RED,),
    agreement: str | None = "accord",
    norms: tuple[str, ...] = ("PARIS-P3",),
    answer_by: dt.datetime | None = None,
) -> IncidentNotify:
    evidence = Evidence(
        sha256=hashlib.sha256(b"e").digest(), name="log", media_type="text/plain", size=1
    )
    return IncidentNotify(
        id=incident_id,
        purpose=purpose,
        to=to,
        title="Intrusion",
        summary="Someone intruded.",
        severity=Severity.HIGH,
        agreement=agreement,
        norms=norms,
        evidence=(evidence,),
        answer_by=answer_by,
    )


def _respond(response: Response = Response.DENY, incident: str = "inc-1") -> IncidentRespond:
    return IncidentRespond(incident=incident, response=response, text="Our answer.")


def _ping(ping_id: str = "ping-1", to: tuple[str, ...] = (RED, GREEN)) -> Ping:
    return Ping(id=ping_id, to=to, role=ContactRole.TECHNICAL, reply_within_minutes=30)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def in_force(world: World) -> World:
    """Blueland and Redland have an accord in force on PARIS-P3 and GCSC-N2."""
    world.ok(BLUE, _accord(answer_hours=48))
    world.ok(RED, AgreementSign(agreement="accord"))
    return world


@pytest.fixture
def alleged(in_force: World) -> World:
    in_force.ok(BLUE, _notify())
    return in_force


# -- genesis --------------------------------------------------------------------------------


def test_genesis_founds_the_group() -> None:
    world = World()
    state = world.state
    assert state.size == 1
    assert state.name == "blue-red-hotline"
    assert [p.id for p in views.parties(state)] == [BLUE, GREEN, RED]
    assert state.parties[BLUE].signing_key == public_key(BLUE)
    assert state.heads[BLUE].seq == 0
    assert state.admission_quorum == 2
    assert (state.acknowledge_hours, state.answer_hours) == (24, 72)


def _genesis_refused(entry: bytes, rule: str) -> None:
    with pytest.raises(RejectedError) as caught:
        genesis(entry)
    assert caught.value.rule == rule
    assert caught.value.message


def test_genesis_unsigned_by_a_founder_is_refused() -> None:
    body = build_genesis(START)
    entry = Chain().genesis(body, START, [BLUE])
    _genesis_refused(entry, "genesis-unsigned")
    with pytest.raises(RejectedError, match="founder redland has not signed"):
        genesis(entry)


def test_genesis_founders_must_be_unique() -> None:
    body = build_genesis(START).model_copy(
        update={"parties": (party_keys(BLUE), party_keys(BLUE, RED))}
    )
    _genesis_refused(Chain().genesis(body, START, [BLUE, RED]), "duplicate-founder")


def test_genesis_founders_must_have_distinct_keys() -> None:
    body = build_genesis(START).model_copy(
        update={"parties": (party_keys(BLUE), party_keys(RED, BLUE))}
    )
    _genesis_refused(Chain().genesis(body, START, [BLUE]), "key-in-use")


def test_genesis_admission_quorum_cannot_exceed_founders() -> None:
    body = build_genesis(START, admission_quorum=3)
    _genesis_refused(Chain().genesis(body, START, [BLUE, RED]), "bad-quorum")


def test_genesis_witness_quorum_cannot_exceed_witnesses() -> None:
    witness = WitnessKey(vkey="witness.example+01020304+AQID")
    body = build_genesis(START, witnesses=(witness,), witness_quorum=2)
    _genesis_refused(Chain().genesis(body, START, [BLUE, RED]), "bad-quorum")


def test_entry_zero_must_be_a_genesis() -> None:
    entry = Chain().make(BLUE, _ping(to=(RED,)), START)
    _genesis_refused(entry, "not-genesis")


def test_genesis_author_must_be_the_first_founder() -> None:
    # The statement layer refuses this shape already: it can never reach the rules.
    with pytest.raises(MalformedError, match="first founder"):
        Chain().make(RED, build_genesis(START), START, seq=0, prev=None, signers=[BLUE, RED])


def test_a_second_genesis_is_refused(world: World) -> None:
    body = build_genesis(START)
    world.refuse_entry(Chain().genesis(body, world.now, [BLUE, RED]), "genesis-again")


# -- rules common to every statement --------------------------------------------------------


def test_wrong_group_is_refused(world: World) -> None:
    world.refused(BLUE, _ping(), "wrong-group", group="another-group")


def test_unknown_author_is_refused(world: World) -> None:
    world.refused("yellowland", _ping(), "unknown-author")


def test_a_party_that_left_cannot_speak(world: World) -> None:
    world.ok(GREEN, PartyLeave(reason="Done"))
    error = world.refused(GREEN, _ping(to=(RED,)), "party-left")
    assert "greenland" in error.message


def test_signature_by_another_key_is_refused(world: World) -> None:
    world.refused(BLUE, _ping(), "bad-signature", signers=[RED])


def test_an_extra_signature_is_refused(world: World) -> None:
    # The author's valid signature plus anyone else's would be a second encoding of the same
    # statement: a relay could present it as the author forking its chain.
    error = world.refused(BLUE, _ping(), "unexpected-signers", signers=[BLUE, RED])
    assert "no say" in error.message


def test_signature_by_a_replaced_key_is_refused_as_revoked(world: World) -> None:
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    world.ok(BLUE, rotate, signers=[BLUE, "blueland/2"])
    world.chain.keys[BLUE] = "blueland/2"
    error = world.refused(BLUE, _ping(), "revoked-key", signers=[BLUE])
    assert "replaced at entry 1" in error.message


def test_seq_gap_is_refused(world: World) -> None:
    world.refused(BLUE, _ping(), "seq-gap", seq=2, prev=b"\x00" * 32)


def test_identical_entry_twice_is_a_replay(world: World) -> None:
    entry = world.chain.make(BLUE, _ping(), world.tick())
    world.state = apply(world.state, entry, at=world.now)
    world.refuse_entry(entry, "replay")


def test_other_bytes_for_a_used_seq_is_a_fork(world: World) -> None:
    world.ok(BLUE, _ping("ping-1"))
    world.refused(BLUE, _ping("ping-2"), "fork", seq=1, prev=None)


def test_prev_not_the_previous_entry_is_a_fork(world: World) -> None:
    world.ok(BLUE, _ping("ping-1"))
    world.refused(BLUE, _ping("ping-2"), "fork", prev=hashlib.sha256(b"other").digest())


def test_time_going_backwards_is_refused(world: World) -> None:
    world.ok(BLUE, _ping("ping-1"))
    entry = world.chain.make(
        BLUE, _ping("ping-2"), world.now - dt.timedelta(seconds=1), advance=False
    )
    world.refuse_entry(entry, "time-reversed")


def test_statements_may_be_five_minutes_ahead_but_not_more(world: World) -> None:
    at = world.now
    late = world.chain.make(
        BLUE, _ping("ping-2"), at + dt.timedelta(minutes=5, seconds=1), advance=False
    )
    world.refuse_entry(late, "future-dated", at=at)
    fine = world.chain.make(BLUE, _ping("ping-1"), at + dt.timedelta(minutes=5))
    assert apply(world.state, fine, at=at).size == 2


# -- party.admit, party.rotate-keys, party.leave, contact.update ----------------------------


def test_admission_at_quorum(world: World) -> None:
    admit = PartyAdmit(party=party_keys("yellowland"))
    world.ok(BLUE, admit)
    assert "yellowland" not in world.state.parties
    assert world.state.admissions["yellowland"].voters == (BLUE,)
    world.refused("yellowland", _ping(to=(RED,)), "unknown-author")
    world.ok(RED, admit)
    assert world.state.parties["yellowland"].joined_at == 2
    assert "yellowland" not in world.state.admissions
    world.ok("yellowland", _ping(to=(RED,)))


def test_admission_votes_must_be_for_identical_keys(world: World) -> None:
    world.ok(BLUE, PartyAdmit(party=party_keys("yellowland")))
    other = PartyKeys(
        id="yellowland",
        name="Yellowland",
        signing_key=public_key("yellowland"),
        encryption_key=AGE["greenland"],
    )
    world.refused(RED, PartyAdmit(party=other), "admission-mismatch")


def test_admission_votes_by_distinct_members(world: World) -> None:
    world.ok(BLUE, PartyAdmit(party=party_keys("yellowland")))
    world.refused(BLUE, PartyAdmit(party=party_keys("yellowland")), "already-voted")


def test_admitting_an_existing_party_is_refused(world: World) -> None:
    world.refused(BLUE, PartyAdmit(party=party_keys(RED)), "party-exists")


def test_admitting_with_a_key_in_use_is_refused(world: World) -> None:
    world.refused(BLUE, PartyAdmit(party=party_keys("yellowland", RED)), "key-in-use")


def test_key_rotation_keeps_the_old_key_with_its_validity(world: World) -> None:
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    world.ok(BLUE, rotate, signers=[BLUE, "blueland/2"])
    party = world.state.parties[BLUE]
    assert [(k.key, k.valid_from, k.valid_until) for k in party.keys] == [
        (public_key(BLUE), 0, 1),
        (public_key("blueland/2"), 2, None),
    ]
    assert party.encryption_key == AGE["blueland/2"]
    world.chain.keys[BLUE] = "blueland/2"
    world.ok(BLUE, _ping())


def test_key_rotation_must_be_signed_by_the_new_key(world: World) -> None:
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    world.refused(BLUE, rotate, "rotate-unsigned", signers=[BLUE])


def test_key_rotation_must_be_signed_by_the_current_key(world: World) -> None:
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    world.refused(BLUE, rotate, "bad-signature", signers=["blueland/2"])


def test_key_rotation_to_a_key_in_use_is_refused(world: World) -> None:
    rotate = PartyRotateKeys(signing_key=public_key(RED), encryption_key=AGE["blueland/2"])
    world.refused(BLUE, rotate, "key-in-use", signers=[BLUE, RED])


def test_leaving_ends_agreements_listing_the_party(in_force: World) -> None:
    assert [a.id for a in views.agreements_in_force(in_force.state)] == ["accord"]
    in_force.ok(RED, PartyLeave())
    assert in_force.state.parties[RED].left
    assert views.agreements_in_force(in_force.state) == ()
    assert views.agreement_status(in_force.state, "accord") is AgreementStatus.LAPSED


def test_contact_update_replaces_the_contacts(world: World) -> None:
    first = Contact(role=ContactRole.TECHNICAL, name="CERT")
    second = Contact(role=ContactRole.DIPLOMATIC, name="MFA desk", email="mfa@red.example")
    world.ok(RED, ContactUpdate(contacts=(first,)))
    world.ok(RED, ContactUpdate(contacts=(second,)))
    assert views.contacts(world.state, RED) == (second,)
    assert world.state.parties[RED].contacts_updated_at == world.now


# -- norms and agreements -------------------------------------------------------------------


def test_norm_propose_adds_a_group_norm(world: World) -> None:
    world.ok(BLUE, _norm())
    norm = views.norm(world.state, "WG-NO-HACK-AND-LEAK")
    assert (norm.framework, norm.provenance) == ("GROUP", ("PARIS-P3",))


@pytest.mark.parametrize("norm_id", ["PARIS-P3", "WG-TWICE"])
def test_norm_ids_are_unique_across_catalogue_and_group(world: World, norm_id: str) -> None:
    world.ok(BLUE, _norm("WG-TWICE"))
    world.refused(RED, _norm(norm_id), "duplicate-norm")


def test_norm_provenance_must_exist(world: World) -> None:
    world.refused(BLUE, _norm(provenance=("PARIS-P99",)), "unknown-norm")


def test_agreement_propose_counts_as_the_proposers_signature(world: World) -> None:
    world.ok(BLUE, _accord())
    accord = world.state.agreements["accord"]
    assert dict(accord.signatures) == {BLUE: 1}
    assert views.agreement_status(world.state, "accord") is AgreementStatus.PROPOSED


def test_agreement_ids_are_unique(world: World) -> None:
    world.ok(BLUE, _accord())
    world.refused(RED, _accord(), "duplicate-agreement")


def test_agreement_proposer_must_be_a_party(world: World) -> None:
    world.refused(GREEN, _accord(), "proposer-not-party")


def test_agreement_parties_must_be_members(world: World) -> None:
    world.refused(BLUE, _accord(parties=(BLUE, "yellowland")), "not-a-member")


def test_agreement_parties_are_distinct(world: World) -> None:
    world.refused(BLUE, _accord(parties=(BLUE, RED, RED)), "duplicate-party")


def test_agreement_norms_must_exist(world: World) -> None:
    world.refused(BLUE, _accord(norms=("PARIS-P3", "WG-UNKNOWN")), "unknown-norm")


def test_agreement_is_in_force_when_every_party_signed(world: World) -> None:
    world.ok(BLUE, _accord(parties=(BLUE, RED, GREEN)))
    world.ok(RED, AgreementSign(agreement="accord"))
    assert views.agreements_in_force(world.state) == ()
    world.ok(GREEN, AgreementSign(agreement="accord"))
    assert views.agreement_status(world.state, "accord") is AgreementStatus.IN_FORCE


def test_only_listed_parties_sign(world: World) -> None:
    world.ok(BLUE, _accord())
    world.refused(GREEN, AgreementSign(agreement="accord"), "not-a-party")


def test_a_party_signs_once(world: World) -> None:
    world.ok(BLUE, _accord())
    world.refused(BLUE, AgreementSign(agreement="accord"), "already-signed")


def test_signing_an_unknown_agreement_is_refused(world: World) -> None:
    world.refused(RED, AgreementSign(agreement="nothing"), "unknown-agreement")


def test_no_signing_after_withdrawal(world: World) -> None:
    world.ok(BLUE, _accord())
    world.ok(BLUE, AgreementWithdraw(agreement="accord"))
    world.refused(RED, AgreementSign(agreement="accord"), "agreement-withdrawn")


def test_no_signing_after_a_party_left(world: World) -> None:
    world.ok(BLUE, _accord(parties=(BLUE, RED, GREEN)))
    world.ok(GREEN, PartyLeave())
    world.refused(RED, AgreementSign(agreement="accord"), "agreement-lapsed")


def test_withdrawal_ends_an_agreement(in_force: World) -> None:
    in_force.ok(RED, AgreementWithdraw(agreement="accord", reason="No longer"))
    assert views.agreement_status(in_force.state, "accord") is AgreementStatus.WITHDRAWN
    assert views.agreements_in_force(in_force.state) == ()


def test_only_a_signer_withdraws(world: World) -> None:
    world.ok(BLUE, _accord())
    world.refused(RED, AgreementWithdraw(agreement="accord"), "not-a-signer")


def test_withdrawing_twice_is_refused(in_force: World) -> None:
    in_force.ok(RED, AgreementWithdraw(agreement="accord"))
    in_force.refused(BLUE, AgreementWithdraw(agreement="accord"), "agreement-withdrawn")


# -- incidents ------------------------------------------------------------------------------


def test_allegation_under_an_agreement_in_force(alleged: World) -> None:
    incident = views.incident_thread(alleged.state, "inc-1")
    assert incident.to == (RED,)
    assert incident.acknowledge_by == incident.issued_at + dt.timedelta(hours=24)
    assert incident.answer_by == incident.issued_at + dt.timedelta(hours=48)  # the accord's


def test_incident_deadline_defaults_and_explicit(world: World) -> None:
    world.ok(BLUE, _notify("inc-a", purpose=Purpose.NOTIFICATION, agreement=None, norms=()))
    issued = world.now
    assert world.state.incidents["inc-a"].answer_by == issued + dt.timedelta(hours=72)
    due = issued + dt.timedelta(hours=5)
    world.ok(BLUE, _notify("inc-b", purpose=Purpose.NOTIFICATION, agreement=None, answer_by=due))
    assert world.state.incidents["inc-b"].answer_by == due


def test_answer_by_must_be_after_issue(world: World) -> None:
    body = _notify(purpose=Purpose.NOTIFICATION, agreement=None, answer_by=START)
    world.refused(BLUE, body, "bad-deadline")


def test_incident_ids_are_unique(alleged: World) -> None:
    alleged.refused(BLUE, _notify(), "duplicate-incident")


def test_incident_cannot_address_its_author(in_force: World) -> None:
    in_force.refused(BLUE, _notify(to=(BLUE,)), "self-addressed")


def test_incident_addressees_are_members(in_force: World) -> None:
    in_force.refused(BLUE, _notify(to=("yellowland",)), "not-a-member")


def test_incident_addressees_are_distinct(in_force: World) -> None:
    in_force.refused(BLUE, _notify(to=(RED, RED)), "duplicate-party")


def test_allegation_must_name_an_agreement(in_force: World) -> None:
    in_force.refused(BLUE, _notify(agreement=None), "agreement-not-in-force")


def test_allegation_agreement_must_be_in_force(world: World) -> None:
    world.ok(BLUE, _accord())
    world.refused(BLUE, _notify(), "agreement-not-in-force")


def test_allegation_agreement_must_exist(world: World) -> None:
    world.refused(BLUE, _notify(agreement="nothing"), "unknown-agreement")


def test_allegation_addressees_must_be_parties_to_the_agreement(in_force: World) -> None:
    in_force.refused(BLUE, _notify(to=(RED, GREEN)), "not-a-party")


def test_allegation_author_must_be_party_to_the_agreement(in_force: World) -> None:
    in_force.refused(GREEN, _notify(to=(RED,)), "not-a-party")


@pytest.mark.parametrize("norms", [(), ("UNGGE15-13f",), ("PARIS-P3", "UNGGE15-13c")])
def test_allegation_norms_are_a_nonempty_subset_of_the_agreements(
    in_force: World, norms: tuple[str, ...]
) -> None:
    in_force.refused(BLUE, _notify(norms=norms), "norm-not-in-force")


def test_other_purposes_may_name_any_existing_norm(world: World) -> None:
    body = _notify(purpose=Purpose.REQUEST_FOR_ASSISTANCE, agreement=None, norms=("UNGGE15-13h",))
    world.ok(BLUE, body)
    bad = _notify("inc-2", purpose=Purpose.REQUEST_FOR_ASSISTANCE, agreement=None, norms=("X-1",))
    world.refused(BLUE, bad, "unknown-norm")


def test_responses_record_acknowledgement_and_answer(alleged: World) -> None:
    alleged.ok(RED, _respond(Response.REQUEST_INFO))
    incident = alleged.state.incidents["inc-1"]
    assert (dict(incident.acknowledged), dict(incident.answered)) == ({}, {})
    alleged.ok(RED, _respond(Response.ACKNOWLEDGE))
    acked = alleged.now
    alleged.ok(RED, _respond(Response.DENY))
    incident = alleged.state.incidents["inc-1"]
    assert dict(incident.acknowledged) == {RED: acked}
    assert dict(incident.answered) == {RED: alleged.now}
    assert [r.response for r in incident.thread] == [
        Response.REQUEST_INFO,
        Response.ACKNOWLEDGE,
        Response.DENY,
    ]


@pytest.mark.parametrize(
    "response", [Response.ANSWER, Response.DECLINE, Response.ACTION_TAKEN, Response.DENY]
)
def test_substantive_responses_count_as_answer(alleged: World, response: Response) -> None:
    alleged.ok(RED, _respond(response))
    incident = alleged.state.incidents["inc-1"]
    assert RED in incident.answered
    assert RED in incident.acknowledged


def test_only_addressees_respond(alleged: World) -> None:
    alleged.refused(BLUE, _respond(), "not-addressee")
    alleged.refused(GREEN, _respond(), "not-addressee")


def test_responding_to_an_unknown_incident_is_refused(world: World) -> None:
    world.refused(RED, _respond(incident="nothing"), "unknown-incident")


# -- consultations, sightings, intel --------------------------------------------------------


def _consult(consultation_id: str = "c-1", incident: str | None = "inc-1", with_parties=(RED,)):
    return ConsultationRequest(
        id=consultation_id,
        with_parties=with_parties,
        agenda="Talk.",
        incident=incident,
        proposed_times=(START + dt.timedelta(days=1),),
    )


def _record(participants=(BLUE, RED), held_at: dt.datetime = START) -> ConsultationRecord:
    return ConsultationRecord(
        consultation="c-1", held_at=held_at, participants=participants, summary="We talked."
    )


def test_consultation_request_and_record(alleged: World) -> None:
    alleged.ok(BLUE, _consult())
    alleged.ok(RED, _record())
    assert [c.id for c in views.consultations_for(alleged.state, "inc-1")] == ["c-1"]
    assert alleged.state.consultations["c-1"].records[0].author == RED


def test_consultation_ids_are_unique(alleged: World) -> None:
    alleged.ok(BLUE, _consult())
    alleged.refused(BLUE, _consult(), "duplicate-consultation")


def test_consultation_parties_are_members(world: World) -> None:
    world.refused(BLUE, _consult(incident=None, with_parties=("yellowland",)), "not-a-member")


def test_consultation_incident_must_exist(world: World) -> None:
    world.refused(BLUE, _consult(incident="nothing"), "unknown-incident")


def test_consultation_on_an_incident_needs_involvement(alleged: World) -> None:
    alleged.refused(GREEN, _consult(), "not-involved")


def test_record_of_an_unknown_consultation_is_refused(world: World) -> None:
    world.refused(BLUE, _record(), "unknown-consultation")


def test_record_only_by_and_of_invited_parties(alleged: World) -> None:
    alleged.ok(BLUE, _consult())
    alleged.refused(GREEN, _record(), "not-a-participant")
    alleged.refused(BLUE, _record(participants=(BLUE, GREEN)), "not-a-participant")


def test_record_of_a_meeting_not_yet_held_is_refused(alleged: World) -> None:
    alleged.ok(BLUE, _consult())
    alleged.refused(BLUE, _record(held_at=START + dt.timedelta(days=30)), "future-meeting")


def _sighting(incident: str | None = None, **changes: object) -> SightingReport:
    values: dict[str, object] = {
        "incident": incident,
        "indicators": (Indicator(type="ipv4-addr", value="198.51.100.7"),),
        "observed": True,
        "first_seen": START - dt.timedelta(days=1),
        "last_seen": START,
        "count": 3,
    }
    values.update(changes)
    return SightingReport(**values)  # type: ignore[arg-type]


def test_sighting_report_is_recorded(alleged: World) -> None:
    alleged.ok(RED, _sighting("inc-1"))
    assert alleged.state.sightings[-1].count == 3


def test_sighting_incident_must_exist(world: World) -> None:
    world.refused(RED, _sighting("nothing"), "unknown-incident")


def test_sighting_interval_must_be_ordered(world: World) -> None:
    world.refused(
        RED, _sighting(first_seen=START, last_seen=START - dt.timedelta(1)), "bad-interval"
    )


def test_sighting_not_observed_has_no_count(world: World) -> None:
    world.refused(RED, _sighting(observed=False), "bad-count")


def _intel(to: tuple[str, ...] = ()) -> IntelShare:
    return IntelShare(
        blob=hashlib.sha256(b"bundle").digest(),
        size=6,
        media_type="application/stix+json;version=2.1",
        title="Bundle",
        to=to,
    )


def test_intel_share_to_group_or_members(world: World) -> None:
    world.ok(BLUE, _intel())
    world.ok(BLUE, _intel((RED,)))
    assert [r.to for r in world.state.intel] == [(), (RED,)]


def test_intel_share_recipients_are_members(world: World) -> None:
    world.refused(BLUE, _intel(("yellowland",)), "not-a-member")


# -- pings ----------------------------------------------------------------------------------


def test_ping_and_acks(world: World) -> None:
    world.ok(BLUE, _ping())
    sent = world.now
    world.ok(RED, PingAck(ping="ping-1"))
    answers = views.ping_answers(world.state, "ping-1")
    assert [(a.party, a.answer_time) for a in answers] == [
        (RED, world.now - sent),
        (GREEN, None),
    ]


def test_ping_ids_are_unique(world: World) -> None:
    world.ok(BLUE, _ping())
    world.refused(RED, _ping(to=(BLUE,)), "duplicate-ping")


def test_ping_cannot_address_its_author(world: World) -> None:
    world.refused(BLUE, _ping(to=(BLUE, RED)), "self-addressed")


def test_ack_of_an_unknown_ping_is_refused(world: World) -> None:
    world.refused(RED, PingAck(ping="nothing"), "unknown-ping")


def test_only_addressees_ack(world: World) -> None:
    world.ok(BLUE, _ping(to=(RED,)))
    world.refused(GREEN, PingAck(ping="ping-1"), "not-addressee")


def test_a_ping_is_acked_once(world: World) -> None:
    world.ok(BLUE, _ping())
    world.ok(RED, PingAck(ping="ping-1"))
    world.refused(RED, PingAck(ping="ping-1"), "already-acked")


def test_malformed_entry_raises_malformed(world: World) -> None:
    with pytest.raises(MalformedError):
        apply(world.state, b'{"payload":"', at=world.now)


def test_every_rejection_names_a_rule_in_the_message(world: World) -> None:
    error = world.refused("yellowland", _ping(), "unknown-author")
    assert str(error).endswith("[unknown-author]")
    assert isinstance(error, RejectedError)

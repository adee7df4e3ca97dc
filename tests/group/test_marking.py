"""The TLP markings the group rules enforce (``detente.group.marking``), one test per rule.

A sealed reference here names any 32 bytes: the rules never fetch blobs. Every refusal also
checks, through ``World.refuse_entry``, that the old state is the same object with the same
digest, and that the error carries a readable message.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from detente.errors import RejectedError
from detente.group import views
from detente.group.marking import check_reshare, readers_of
from detente.group.state import Marking
from detente.statements.kinds import (
    AgreementPropose,
    Body,
    ConsultationRecord,
    ConsultationRequest,
    ContactRole,
    IncidentNotify,
    IncidentRespond,
    Indicator,
    IntelShare,
    NormPropose,
    PartyLeave,
    Ping,
    Purpose,
    Response,
    SealableBody,
    Sealed,
    Severity,
    SightingReport,
    Tlp,
)
from detente.statements.sealing import public_body
from group.world import START, World

BLUE, RED, GREEN = "blueland", "redland", "greenland"
CONFIDENTIAL = (Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
_STIX = "application/stix+json;version=2.1"


def _ref(*recipients: str, what: bytes = b"ciphertext") -> Sealed:
    return Sealed(
        blob=hashlib.sha256(what).digest(), size=len(what) + 200, recipients=tuple(recipients)
    )


def _sealed(body: SealableBody, *recipients: str) -> SealableBody:
    return public_body(body, _ref(*sorted(recipients)))


def _notify(incident_id: str = "inc-1", to: tuple[str, ...] = (RED,)) -> IncidentNotify:
    return IncidentNotify(
        id=incident_id,
        purpose=Purpose.REQUEST_FOR_ASSISTANCE,
        to=to,
        title="Scanning from your space",
        summary="Sustained scanning of our grid operator.",
        severity=Severity.HIGH,
        norms=(),
        evidence=(),
    )


def _intel(to: tuple[str, ...] = (), derived_from: int | None = None) -> IntelShare:
    return IntelShare(
        blob=hashlib.sha256(b"a STIX bundle").digest(),
        size=4096,
        media_type=_STIX,
        title="Scanner infrastructure",
        to=to,
        derived_from=derived_from,
    )


def _unsealed_bodies() -> dict[str, SealableBody]:
    return {
        "incident.notify": _notify(),
        "incident.respond": IncidentRespond(
            incident="inc-0", response=Response.ACKNOWLEDGE, text="Seen."
        ),
        "consultation.request": ConsultationRequest(
            id="consult-1", with_parties=(RED,), agenda="Talk.", proposed_times=()
        ),
        "consultation.record": ConsultationRecord(
            consultation="consult-0",
            held_at=START,
            participants=(BLUE, RED),
            summary="We talked.",
        ),
        "sighting.report": SightingReport(
            indicators=(Indicator(type="ipv4-addr", value="198.51.100.7"),),
            observed=True,
            count=2,
        ),
        "intel.share": _intel(to=(RED,)),
    }


def _world_with_incident(tlp: Tlp = Tlp.GREEN) -> World:
    """Blueland notified Redland of ``inc-0`` and asked it to consult (``consult-0``), in the
    clear; Redland answers to Blueland."""
    world = World()
    world.ok(BLUE, _notify("inc-0"), tlp=tlp)
    world.ok(
        BLUE,
        ConsultationRequest(id="consult-0", with_parties=(RED,), agenda="Talk.", proposed_times=()),
    )
    return world


def _author(kind: str) -> str:
    return RED if kind == "incident.respond" else BLUE


# -- not-encrypted ----------------------------------------------------------------------------


@pytest.mark.parametrize("tlp", CONFIDENTIAL)
@pytest.mark.parametrize("kind", sorted(_unsealed_bodies()))
def test_confidential_content_in_the_clear_is_refused(kind: str, tlp: Tlp) -> None:
    world = _world_with_incident()
    error = world.refused(_author(kind), _unsealed_bodies()[kind], "not-encrypted", tlp=tlp)
    assert f"TLP:{tlp.value} content must be encrypted" in error.message
    assert kind in error.message


@pytest.mark.parametrize("tlp", [Tlp.CLEAR, Tlp.GREEN])
@pytest.mark.parametrize("kind", sorted(_unsealed_bodies()))
def test_clear_and_green_content_may_stay_in_the_clear(kind: str, tlp: Tlp) -> None:
    world = _world_with_incident()
    state = world.ok(_author(kind), _unsealed_bodies()[kind], tlp=tlp)
    marking = state.markings[state.size - 1]
    assert marking.tlp is tlp
    assert marking.author == _author(kind)
    expected = (BLUE, RED) if kind == "intel.share" else None  # an intel share names its readers
    assert marking.readers == expected


def _governance() -> list[Body]:
    return [
        NormPropose(id="WG-NO-SCANS", title="No scans", text="Do not scan.", provenance=()),
        AgreementPropose(id="accord", title="Accord", norms=("PARIS-P3",), parties=(BLUE, RED)),
        Ping(id="ping-1", to=(RED,), role=ContactRole.TECHNICAL, reply_within_minutes=60),
        PartyLeave(reason="Mandate ended"),
    ]


@pytest.mark.parametrize("tlp", CONFIDENTIAL)
@pytest.mark.parametrize("body", _governance(), ids=lambda b: type(b).__name__)
def test_governance_kinds_cannot_be_above_green(body: Body, tlp: Tlp) -> None:
    world = World()
    error = world.refused(BLUE, body, "not-encrypted", tlp=tlp)
    assert "cannot be encrypted" in error.message
    assert f"TLP:{tlp.value}" in error.message
    assert "TLP:CLEAR or TLP:GREEN" in error.message


def test_governance_kinds_leave_no_marking() -> None:
    world = World()
    state = world.ok(BLUE, _governance()[0], tlp=Tlp.GREEN)
    assert dict(state.markings) == {}


# -- recipients -------------------------------------------------------------------------------


def test_red_intel_needs_named_recipients() -> None:
    world = World()
    body = _sealed(_intel(to=()), BLUE, RED)
    error = world.refused(BLUE, body, "red-needs-recipients", tlp=Tlp.RED)
    assert "named recipients only" in error.message
    state = world.ok(BLUE, _sealed(_intel(to=(RED,)), BLUE, RED), tlp=Tlp.RED)
    assert state.markings[state.size - 1] == Marking(BLUE, Tlp.RED, (BLUE, RED))


def test_sealed_to_a_party_that_is_not_a_member_is_refused() -> None:
    world = World()
    error = world.refused(
        BLUE, _sealed(_notify(), BLUE, RED, "yellowland"), "unknown-recipient", tlp=Tlp.AMBER
    )
    assert "encrypted to yellowland, not a member" in error.message


def test_sealed_to_a_party_that_left_is_refused() -> None:
    world = World()
    world.ok(GREEN, PartyLeave(reason="Done"))
    error = world.refused(
        BLUE, _sealed(_notify(), BLUE, GREEN, RED), "unknown-recipient", tlp=Tlp.AMBER
    )
    assert "greenland" in error.message


@pytest.mark.parametrize("kind", sorted(_unsealed_bodies()))
def test_sealed_content_its_author_cannot_read_is_refused(kind: str) -> None:
    world = _world_with_incident()
    author = _author(kind)
    others = tuple(p for p in (BLUE, RED, GREEN) if p != author)
    error = world.refused(
        author,
        _sealed(_unsealed_bodies()[kind], *others),
        "author-not-recipient",
        tlp=Tlp.AMBER,
    )
    assert f"encrypted to its author {author}" in error.message


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        (_notify(to=(RED, GREEN)), "greenland"),
        (
            ConsultationRequest(
                id="consult-1", with_parties=(GREEN, RED), agenda="Talk.", proposed_times=()
            ),
            "greenland",
        ),
        (_intel(to=(GREEN, RED)), "greenland"),
    ],
    ids=["incident.notify", "consultation.request", "intel.share"],
)
def test_sealed_content_an_addressee_cannot_read_is_refused(
    body: SealableBody, missing: str
) -> None:
    world = World()
    error = world.refused(BLUE, _sealed(body, BLUE, RED), "addressee-cannot-read", tlp=Tlp.AMBER)
    assert f"{missing} must be able to read this sealed" in error.message


def test_a_sealed_answer_the_incidents_author_cannot_read_is_refused() -> None:
    world = _world_with_incident()
    answer = IncidentRespond(incident="inc-0", response=Response.DENY, text="Not us.")
    error = world.refused(RED, _sealed(answer, GREEN, RED), "addressee-cannot-read", tlp=Tlp.AMBER)
    assert "blueland must be able to read this sealed incident.respond" in error.message
    state = world.ok(RED, _sealed(answer, BLUE, RED), tlp=Tlp.AMBER)
    reply = state.incidents["inc-0"].thread[-1]
    assert reply.text is None
    assert reply.sealed == _ref(BLUE, RED)
    assert state.incidents["inc-0"].answered[RED] == reply.issued_at


# -- accepted sealed statements ---------------------------------------------------------------


def test_sealed_green_content_is_accepted_and_read_by_its_recipients_only() -> None:
    world = World()
    state = world.ok(BLUE, _sealed(_notify(), BLUE, RED), tlp=Tlp.GREEN)
    incident = state.incidents["inc-1"]
    assert (incident.title, incident.summary, incident.evidence) == (None, None, ())
    assert incident.sealed == _ref(BLUE, RED)
    assert state.markings[incident.index] == Marking(BLUE, Tlp.GREEN, (BLUE, RED))


def test_sealing_to_more_than_the_addressees_is_allowed() -> None:
    world = World()
    state = world.ok(BLUE, _sealed(_notify(), BLUE, GREEN, RED), tlp=Tlp.RED)
    assert state.markings[state.size - 1].readers == (BLUE, GREEN, RED)


@pytest.mark.parametrize("tlp", CONFIDENTIAL)
def test_a_sealed_incident_has_the_deadlines_of_the_same_incident_in_the_clear(tlp: Tlp) -> None:
    clear, sealed = World(), World()
    notify = _notify().model_copy(update={"answer_by": None})
    clear.ok(BLUE, notify, tlp=Tlp.GREEN)
    sealed.ok(BLUE, _sealed(notify, BLUE, RED), tlp=tlp)
    a, b = clear.state.incidents["inc-1"], sealed.state.incidents["inc-1"]
    assert (a.issued_at, a.acknowledge_by, a.answer_by) == (
        b.issued_at,
        b.acknowledge_by,
        b.answer_by,
    )
    assert b.answer_by == b.issued_at + dt.timedelta(hours=72)
    assert b.tlp is tlp
    assert b.title is None
    later = b.issued_at + dt.timedelta(days=10)
    strip = [
        (d.party, d.duty, d.ref, d.owed_to, d.due, d.overdue)
        for d in views.deadlines(clear.state, later)
    ]
    assert strip == [
        (d.party, d.duty, d.ref, d.owed_to, d.due, d.overdue)
        for d in views.deadlines(sealed.state, later)
    ]
    assert [d.overdue for d in views.overdue(sealed.state, later)] == [True, True]
    # A sealed acknowledgement meets the acknowledgement duty just as a clear one does.
    ack = IncidentRespond(incident="inc-1", response=Response.ACKNOWLEDGE, text="Seen.")
    sealed.ok(RED, _sealed(ack, BLUE, RED), tlp=tlp)
    assert RED in sealed.state.incidents["inc-1"].acknowledged


# -- re-shares ----------------------------------------------------------------------------------


def _original(world: World, tlp: Tlp, to: tuple[str, ...], *recipients: str) -> int:
    """Blueland shares intel (sealed to ``recipients`` when given); its entry index."""
    body: SealableBody = _intel(to=to)
    if recipients:
        body = _sealed(body, *recipients)
    state = world.ok(BLUE, body, tlp=tlp)
    return state.size - 1


def test_a_reshare_of_an_entry_without_a_marking_is_refused() -> None:
    world = World()
    state = world.ok(BLUE, Ping(id="ping-1", to=(RED,), role=ContactRole.TECHNICAL,
                                reply_within_minutes=60))  # fmt: skip
    ping_index = state.size - 1
    for index in (ping_index, 999):
        error = world.refused(RED, _intel(derived_from=index), "unknown-original", tlp=Tlp.GREEN)
        assert f"entry {index} is not a statement whose content can be shared" in error.message


def test_resharing_what_one_was_never_given_is_refused() -> None:
    world = World()
    original = _original(world, Tlp.AMBER, (RED,), BLUE, RED)
    body = _sealed(_intel(to=(RED,), derived_from=original), GREEN, RED)
    error = world.refused(GREEN, body, "not-a-recipient", tlp=Tlp.AMBER)
    assert "greenland was not given this content (it went to blueland, redland)" in error.message


@pytest.mark.parametrize(("first", "then"), [(Tlp.AMBER, Tlp.GREEN), (Tlp.RED, Tlp.AMBER),
                                             (Tlp.AMBER_STRICT, Tlp.AMBER),
                                             (Tlp.GREEN, Tlp.CLEAR)])  # fmt: skip
def test_a_reshare_cannot_lower_the_marking(first: Tlp, then: Tlp) -> None:
    world = World()
    original = _original(world, first, (RED,), BLUE, RED)
    body = _sealed(_intel(to=(BLUE,), derived_from=original), BLUE, RED)
    error = world.refused(RED, body, "tlp-lowered", tlp=then)
    assert f"original is TLP:{first.value}" in error.message
    assert f"lower it to TLP:{then.value}" in error.message


def test_amber_content_reshared_beyond_its_readers_is_refused() -> None:
    world = World()
    original = _original(world, Tlp.AMBER, (RED,), BLUE, RED)
    body = _sealed(_intel(to=(GREEN,), derived_from=original), GREEN, RED)
    error = world.refused(RED, body, "reshare-excluded", tlp=Tlp.AMBER)
    assert "shared with blueland, redland; its marking excludes greenland" in error.message
    # Raising the marking does not widen who may read it.
    error = world.refused(RED, body, "reshare-excluded", tlp=Tlp.RED)
    assert "excludes greenland" in error.message


def test_green_content_may_be_reshared_as_amber_to_anyone() -> None:
    world = World()
    original = _original(world, Tlp.GREEN, (RED,), BLUE, RED)
    body = _sealed(_intel(to=(GREEN,), derived_from=original), GREEN, RED)
    state = world.ok(RED, body, tlp=Tlp.AMBER)
    assert state.markings[state.size - 1] == Marking(RED, Tlp.AMBER, (GREEN, RED))
    assert state.intel[-1].derived_from == original


def test_clear_content_for_the_whole_group_may_be_reshared_by_anyone() -> None:
    world = World()
    original = _original(world, Tlp.CLEAR, ())
    assert world.state.markings[original] == Marking(BLUE, Tlp.CLEAR, None)
    state = world.ok(GREEN, _intel(derived_from=original), tlp=Tlp.GREEN)
    assert state.markings[state.size - 1] == Marking(GREEN, Tlp.GREEN, None)


def test_amber_content_may_be_reshared_within_its_readers() -> None:
    world = World()
    original = _original(world, Tlp.AMBER, (GREEN, RED), BLUE, GREEN, RED)
    body = _sealed(_intel(to=(GREEN,), derived_from=original), GREEN, RED)
    state = world.ok(RED, body, tlp=Tlp.AMBER)
    reshare = state.size - 1
    assert state.markings[reshare] == Marking(RED, Tlp.AMBER, (GREEN, RED))
    # The re-share has its own, narrower marking: its content cannot go back to Blueland
    # through it, though the original may.
    back = _sealed(_intel(to=(BLUE,), derived_from=reshare), BLUE, GREEN)
    world.refused(GREEN, back, "reshare-excluded", tlp=Tlp.RED)
    again = _sealed(_intel(to=(BLUE,), derived_from=original), BLUE, GREEN)
    state = world.ok(GREEN, again, tlp=Tlp.RED)
    assert state.markings[state.size - 1] == Marking(GREEN, Tlp.RED, (BLUE, GREEN))


def test_an_incident_can_be_the_original_of_a_reshare() -> None:
    world = World()
    state = world.ok(BLUE, _sealed(_notify(), BLUE, RED), tlp=Tlp.AMBER)
    index = state.incidents["inc-1"].index
    wider = _sealed(_intel(to=(GREEN,), derived_from=index), GREEN, RED)
    world.refused(RED, wider, "reshare-excluded", tlp=Tlp.AMBER)
    within = _sealed(_intel(to=(BLUE,), derived_from=index), BLUE, RED)
    world.ok(RED, within, tlp=Tlp.AMBER_STRICT)


# -- check_reshare and readers_of, as a node calls them before encrypting ----------------------


def test_check_reshare_refuses_amber_for_the_whole_group() -> None:
    original = Marking(BLUE, Tlp.AMBER, (BLUE, RED))
    with pytest.raises(RejectedError) as caught:
        check_reshare(original, RED, Tlp.AMBER, None)
    assert caught.value.rule == "reshare-excluded"
    assert "cannot go to the whole group in a re-share, only to blueland, redland" in str(
        caught.value
    )
    check_reshare(original, RED, Tlp.RED, (BLUE, RED))
    check_reshare(Marking(BLUE, Tlp.GREEN, None), GREEN, Tlp.GREEN, None)


def test_readers_of_a_statement() -> None:
    world = World()
    world.ok(BLUE, _sealed(_notify(), BLUE, RED), tlp=Tlp.AMBER)
    world.ok(BLUE, _intel(to=(RED,)), tlp=Tlp.GREEN)
    world.ok(BLUE, _notify("inc-2"), tlp=Tlp.GREEN)
    from detente.statements.payload import open_entry

    # Rebuild the statements the chain made to ask readers_of about them.
    chain_world = World()
    entries = [
        chain_world.chain.make(BLUE, _sealed(_notify(), BLUE, RED), START, tlp=Tlp.AMBER),
        chain_world.chain.make(BLUE, _intel(to=(RED,)), START, tlp=Tlp.GREEN),
        chain_world.chain.make(BLUE, _notify("inc-2"), START, tlp=Tlp.GREEN),
    ]
    got = [readers_of(open_entry(e).statement) for e in entries]
    assert got == [(BLUE, RED), (BLUE, RED), None]
    assert [world.state.markings[i].readers for i in (1, 2, 3)] == got


# -- statements about confidential incidents and consultations --------------------------------


def _sealed_world(tlp: Tlp = Tlp.AMBER) -> World:
    """Blueland sealed incident ``inc-s`` to Redland (``tlp``), and a consultation about it."""
    world = World()
    world.ok(BLUE, _sealed(_notify("inc-s"), BLUE, RED), tlp=tlp)
    consult = ConsultationRequest(
        id="consult-s", with_parties=(RED,), agenda="Talk.", incident="inc-s", proposed_times=()
    )
    world.ok(BLUE, _sealed(consult, BLUE, RED), tlp=tlp)
    return world


def _answer(text: str = "We deny it.") -> IncidentRespond:
    return IncidentRespond(incident="inc-s", response=Response.DENY, text=text)


@pytest.mark.parametrize("tlp", [Tlp.CLEAR, Tlp.GREEN])
def test_an_answer_in_the_clear_cannot_lower_a_confidential_incident(tlp: Tlp) -> None:
    world = _sealed_world()
    error = world.refused(RED, _answer("Quoting your title back"), "tlp-lowered", tlp=tlp)
    assert "the original is TLP:AMBER" in error.message
    assert "a statement about incident inc-s" in error.message


@pytest.mark.parametrize(
    ("author", "body"),
    [
        (
            BLUE,
            ConsultationRequest(
                id="consult-2",
                with_parties=(RED,),
                agenda="x",
                incident="inc-s",
                proposed_times=(),
            ),
        ),
        (
            BLUE,
            SightingReport(
                incident="inc-s",
                indicators=(Indicator(type="ipv4-addr", value="198.51.100.7"),),
                observed=True,
                count=1,
            ),
        ),
        (
            RED,
            ConsultationRecord(
                consultation="consult-s",
                held_at=START,
                participants=(BLUE, RED),
                summary="Minutes in the clear",
            ),
        ),
    ],
    ids=["consultation-about-it", "sighting-for-it", "record-of-its-consultation"],
)
def test_statements_about_confidential_content_keep_its_marking(author: str, body: Body) -> None:
    world = _sealed_world()
    world.refused(author, body, "tlp-lowered", tlp=Tlp.GREEN)


def test_an_answer_cannot_reach_a_party_the_incident_excluded() -> None:
    world = _sealed_world(Tlp.AMBER_STRICT)
    error = world.refused(
        RED, _sealed(_answer(), BLUE, GREEN, RED), "reshare-excluded", tlp=Tlp.RED
    )
    assert "its marking excludes greenland" in error.message
    world.ok(RED, _sealed(_answer(), BLUE, RED), tlp=Tlp.RED)  # stricter, same readers: fine


def test_a_green_incident_may_be_answered_in_the_clear() -> None:
    world = _world_with_incident(Tlp.GREEN)
    world.ok(RED, IncidentRespond(incident="inc-0", response=Response.ANSWER, text="Yes."))


def test_sealed_records_and_sightings_must_be_readable_by_those_they_concern() -> None:
    world = _sealed_world()
    record = ConsultationRecord(
        consultation="consult-s", held_at=START, participants=(BLUE, RED), summary="Minutes"
    )
    error = world.refused(RED, _sealed(record, RED), "addressee-cannot-read", tlp=Tlp.AMBER)
    assert "blueland must be able to read this sealed consultation.record" in error.message
    sighting = SightingReport(
        incident="inc-s",
        indicators=(Indicator(type="ipv4-addr", value="198.51.100.7"),),
        observed=True,
        count=1,
    )
    world.refused(RED, _sealed(sighting, RED), "addressee-cannot-read", tlp=Tlp.AMBER)
    world.ok(RED, _sealed(sighting, BLUE, RED), tlp=Tlp.AMBER)

"""Views: deadlines and overdue flags from an injected ``now`` (never a clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from detente.errors import NotFoundError
from detente.group import views
from detente.group.views import Duty
from detente.statements.kinds import (
    ContactRole,
    IncidentNotify,
    IncidentRespond,
    PartyLeave,
    Ping,
    PingAck,
    Purpose,
    Response,
    Severity,
)
from group.scenario import ACCORD, INCIDENT, NORMS, build_seed_scenario
from group.world import START, World

HOUR = dt.timedelta(hours=1)


def _notice(to: tuple[str, ...] = ("redland", "greenland")) -> IncidentNotify:
    return IncidentNotify(
        id="inc-1",
        purpose=Purpose.REQUEST_FOR_INFORMATION,
        to=to,
        title="Scanning",
        summary="Scanning from your space.",
        severity=Severity.LOW,
        norms=(),
        evidence=(),
    )


@pytest.fixture
def noticed() -> World:
    world = World()
    world.ok("blueland", _notice())
    return world


def test_deadlines_before_and_after_they_pass(noticed: World) -> None:
    issued = noticed.now
    due = views.deadlines(noticed.state, issued)
    assert [(d.party, d.duty, d.due, d.overdue) for d in due] == [
        ("greenland", Duty.ACKNOWLEDGE, issued + 24 * HOUR, False),
        ("redland", Duty.ACKNOWLEDGE, issued + 24 * HOUR, False),
        ("greenland", Duty.ANSWER, issued + 72 * HOUR, False),
        ("redland", Duty.ANSWER, issued + 72 * HOUR, False),
    ]
    assert views.overdue(noticed.state, issued + 24 * HOUR) == ()  # due, not yet past
    late = views.overdue(noticed.state, issued + 24 * HOUR + dt.timedelta(seconds=1))
    assert [(d.party, d.duty) for d in late] == [
        ("greenland", Duty.ACKNOWLEDGE),
        ("redland", Duty.ACKNOWLEDGE),
    ]
    assert len(views.overdue(noticed.state, issued + 100 * HOUR)) == 4


def test_met_deadlines_disappear_unless_met_late(noticed: World) -> None:
    noticed.ok("redland", IncidentRespond(incident="inc-1", response=Response.ANSWER, text="No."))
    due = views.deadlines(noticed.state, noticed.now)
    assert {d.party for d in due} == {"greenland"}
    noticed.now += 30 * HOUR
    noticed.ok(
        "greenland", IncidentRespond(incident="inc-1", response=Response.ACKNOWLEDGE, text="Ok")
    )
    due = views.deadlines(noticed.state, noticed.now)
    late = [d for d in due if d.met]
    assert [(d.party, d.duty, d.late, d.overdue) for d in late] == [
        ("greenland", Duty.ACKNOWLEDGE, True, False)
    ]
    assert [(d.party, d.duty) for d in due if not d.met] == [("greenland", Duty.ANSWER)]


def test_parties_who_left_owe_nothing(noticed: World) -> None:
    noticed.ok("greenland", PartyLeave())
    assert {d.party for d in views.overdue(noticed.state, noticed.now + 100 * HOUR)} == {"redland"}


def test_ping_deadlines_and_answer_times() -> None:
    world = World()
    world.ok(
        "blueland",
        Ping(
            id="p-1",
            to=("redland", "greenland"),
            role=ContactRole.DIPLOMATIC,
            reply_within_minutes=15,
        ),
    )
    sent = world.now
    world.now += dt.timedelta(minutes=9)
    world.ok("redland", PingAck(ping="p-1"))
    answers = {a.party: a for a in views.ping_answers(world.state)}
    assert answers["redland"].answer_time == dt.timedelta(minutes=10)
    assert answers["redland"].in_time
    assert answers["greenland"].acked_at is None
    assert not answers["greenland"].in_time
    overdue = views.overdue(world.state, sent + dt.timedelta(minutes=16))
    assert [(d.party, d.duty, d.ref) for d in overdue] == [("greenland", Duty.PING_ACK, "p-1")]
    assert views.overdue(world.state, sent + dt.timedelta(minutes=15)) == ()


def test_seed_scenario_views() -> None:
    from detente.group import apply, genesis

    entries = build_seed_scenario(START)
    state = genesis(entries[0])
    for entry in entries[1:]:
        state = apply(state, entry, at=START + HOUR)
    (accord,) = views.agreements_in_force(state)
    assert (accord.id, accord.norms) == (ACCORD, NORMS)
    thread = views.incident_thread(state, INCIDENT)
    assert [r.response for r in thread.thread] == [Response.DENY]
    assert thread.answer_by == thread.issued_at + 72 * HOUR
    assert views.deadlines(state, START + 1000 * HOUR) == ()
    assert views.open_incidents(state) == ()
    assert [c.records[0].participants for c in views.consultations_for(state, INCIDENT)] == [
        ("blueland", "redland")
    ]
    assert {n.id for n in views.all_norms(state)} >= set(NORMS) | {"PARIS-P3"}
    assert [c.role.value for c in views.contacts(state, "redland")] == ["diplomatic", "technical"]


def test_views_of_unknown_things_raise_not_found(noticed: World) -> None:
    for call in (
        lambda: views.incident_thread(noticed.state, "nothing"),
        lambda: views.agreement(noticed.state, "nothing"),
        lambda: views.norm(noticed.state, "X-1"),
        lambda: views.contacts(noticed.state, "nobody"),
        lambda: views.ping_answers(noticed.state, "nothing"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_open_incidents_and_parties(noticed: World) -> None:
    assert [i.id for i in views.open_incidents(noticed.state)] == ["inc-1"]
    noticed.ok("greenland", PartyLeave())
    assert [p.id for p in views.parties(noticed.state)] == ["blueland", "redland"]
    assert len(views.parties(noticed.state, include_left=True)) == 3

"""The hub's JSON views of sealed content: the ciphertext's reference, never the content."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from detente.hub import views
from detente.statements.kinds import (
    ConsultationRequest,
    Evidence,
    IncidentNotify,
    IncidentRespond,
    Purpose,
    Response,
    Sealed,
    Severity,
    Tlp,
)
from detente.statements.sealing import public_body
from group.world import World

BLUE, RED = "blueland", "redland"
SECRET = "Implant found on the ministry's mail gateway"
NOTICE = Sealed(blob=hashlib.sha256(b"notice").digest(), size=2048, recipients=(BLUE, RED))
ANSWER = Sealed(blob=hashlib.sha256(b"answer").digest(), size=512, recipients=(BLUE, RED))
AGENDA = Sealed(blob=hashlib.sha256(b"agenda").digest(), size=300, recipients=(BLUE, RED))


def _world() -> World:
    world = World()
    notice = IncidentNotify(
        id="inc-1",
        purpose=Purpose.REQUEST_FOR_ASSISTANCE,
        to=(RED,),
        title=SECRET,
        summary="Three weeks of mail read.",
        severity=Severity.CRITICAL,
        norms=(),
        evidence=(
            Evidence(
                sha256=hashlib.sha256(b"pcap").digest(),
                name="capture.pcap",
                media_type="application/vnd.tcpdump.pcap",
                size=4,
            ),
        ),
    )
    world.ok(BLUE, public_body(notice, NOTICE), tlp=Tlp.AMBER)
    answer = IncidentRespond(incident="inc-1", response=Response.ACKNOWLEDGE, text="On it.")
    world.ok(RED, public_body(answer, ANSWER), tlp=Tlp.AMBER)
    request = ConsultationRequest(
        id="consult-1", with_parties=(RED,), agenda="Samples.", incident="inc-1", proposed_times=()
    )
    world.ok(BLUE, public_body(request, AGENDA), tlp=Tlp.RED)
    world.ok(
        BLUE,
        IncidentNotify(
            id="inc-2",
            purpose=Purpose.NOTIFICATION,
            to=(RED,),
            title="Scanning",
            summary="Scans.",
            severity=Severity.LOW,
            norms=(),
            evidence=(),
        ),
        tlp=Tlp.GREEN,
    )
    return world


def _ref(sealed: Sealed) -> dict[str, object]:
    return {"blob": sealed.blob.hex(), "size": sealed.size, "recipients": list(sealed.recipients)}


def test_a_sealed_incident_shows_its_ciphertext_and_no_content() -> None:
    world = _world()
    now = world.now + dt.timedelta(hours=1)
    data = views.incident_json(world.state, "inc-1", now)
    assert data["sealed"] == _ref(NOTICE)
    assert data["title"] is None
    assert data["summary"] is None
    assert data["evidence"] == []
    assert data["tlp"] == "AMBER"
    assert data["to"] == [RED]
    assert data["severity"] == "critical"
    # The deadlines come from the readable fields, as for any incident.
    assert [(d["party"], d["duty"]) for d in data["deadlines"]] == [(RED, "answer")]
    (reply,) = data["thread"]
    assert reply["text"] is None
    assert reply["sealed"] == _ref(ANSWER)
    (consultation,) = data["consultations"]
    assert consultation["agenda"] is None
    assert consultation["sealed"] == _ref(AGENDA)
    text = json.dumps(data)
    assert SECRET not in text
    assert "capture.pcap" not in text


def test_content_in_the_clear_has_a_null_sealed() -> None:
    world = _world()
    listed = views.incidents_json(world.state, world.now)
    assert [(i["id"], i["sealed"] is None) for i in listed] == [("inc-1", False), ("inc-2", True)]
    assert listed[1]["title"] == "Scanning"
    assert listed[0]["replies"] == 1

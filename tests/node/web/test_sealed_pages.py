"""Pages of sealed incidents, rendered server-side: opened by this node, and not.

The group state and log entries are real (the group rules over entries the scenario builder
signs), and so is the node's database (an empty ``NodeStore`` on SQLite: no checkpoint yet);
what this node opened is given per test, as ``Node.opened``/``Node.revealed`` would answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from detente.group import apply
from detente.group.state import GroupState
from detente.node.store import NodeStore
from detente.node.web import mount_web
from detente.statements.kinds import (
    Body,
    Evidence,
    IncidentNotify,
    IncidentRespond,
    Purpose,
    Response,
    Sealed,
    Severity,
    Tlp,
)
from detente.statements.payload import SignedStatement, entry_hash, open_entry
from detente.statements.sealing import public_body
from group.scenario import Chain, build_genesis
from group.world import START, World
from node.web.helpers import csrf_of
from syncasgi import asgi_client

BLUE, RED, GREEN = "blueland", "redland", "greenland"
TOKEN = "render-test-token"
TITLE = "Implant on the ministry's mail gateway"
SUMMARY = "Three weeks of mail were read through a supplier's VPN."
ANSWER_TEXT = "We are looking at the VPN concentrator now."
EVIDENCE = Evidence(
    sha256=hashlib.sha256(b"gateway capture").digest(),
    name="gateway.pcap",
    media_type="application/vnd.tcpdump.pcap",
    size=15,
)
NOTICE = Sealed(blob=hashlib.sha256(b"notice").digest(), size=2222, recipients=(BLUE, RED))
ANSWER = Sealed(blob=hashlib.sha256(b"answer").digest(), size=333, recipients=(BLUE, RED))
WHOLE_NOTICE = IncidentNotify(
    id="inc-sealed",
    purpose=Purpose.REQUEST_FOR_ASSISTANCE,
    to=(RED,),
    title=TITLE,
    summary=SUMMARY,
    severity=Severity.HIGH,
    norms=(),
    evidence=(EVIDENCE,),
)
WHOLE_ANSWER = IncidentRespond(
    incident="inc-sealed", response=Response.ACKNOWLEDGE, text=ANSWER_TEXT
)


@dataclass
class _Directory:
    path: Path


@dataclass
class _ReadingNode:
    """A node's read side over a real state and log (the web UI's ``WebNode``, read-only)."""

    party: str
    state_: GroupState
    log: list[bytes]
    store: NodeStore
    directory: _Directory
    opened_bodies: dict[int, Body] = field(default_factory=dict)
    api_token: str = TOKEN
    speaker: Any = None

    def state(self) -> GroupState:
        return self.state_

    def now(self) -> dt.datetime:
        return max(s.issued_at for s in self.statements()) + dt.timedelta(hours=1)

    def statements(self) -> list[Any]:
        return [open_entry(e).statement for e in self.log[1:]]

    def entries(self, start: int, end: int) -> list[tuple[int, SignedStatement]]:
        return [(i, open_entry(self.log[i])) for i in range(start, end)]

    def opened(self, index: int) -> Body | None:
        return self.opened_bodies.get(index)

    def revealed(self) -> dict[int, Body]:
        return dict(self.opened_bodies)


@dataclass
class _Served:
    world: World
    entries: list[bytes]


@pytest.fixture
def served() -> _Served:
    world = World()
    # The World's genesis entry, made again (Ed25519 signing is deterministic).
    founders = (BLUE, RED, GREEN)
    log = [Chain().genesis(build_genesis(START, parties=founders), START, founders)]
    assert entry_hash(log[0]) == world.state.genesis_hash

    def ok(author: str, body: Body, tlp: Tlp) -> None:
        entry = world.chain.make(author, body, world.tick(), tlp=tlp)
        world.state = apply(world.state, entry, at=world.now)
        log.append(entry)

    ok(BLUE, public_body(WHOLE_NOTICE, NOTICE), Tlp.AMBER)
    ok(RED, public_body(WHOLE_ANSWER, ANSWER), Tlp.AMBER)
    clear = IncidentNotify(
        id="inc-clear",
        purpose=Purpose.NOTIFICATION,
        to=(GREEN,),
        title="Scanning from your space",
        summary="Scans.",
        severity=Severity.LOW,
        norms=(),
        evidence=(),
    )
    ok(BLUE, clear, Tlp.GREEN)
    return _Served(world, log)


@pytest.fixture
def pages(served: _Served, tmp_path: Path) -> Iterator[Any]:
    stores: list[NodeStore] = []
    clients: list[httpx.Client] = []

    def open_as(party: str, opened: dict[int, Body]) -> httpx.Client:
        store = NodeStore.open(f"sqlite:///{tmp_path / f'{party}-{len(stores)}.db'}", b"s" * 32)
        stores.append(store)
        node = _ReadingNode(
            party, served.world.state, served.entries, store, _Directory(tmp_path), opened
        )
        app = FastAPI()
        mount_web(app, node)  # type: ignore[arg-type]
        client = asgi_client(app)
        clients.append(client)
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": TOKEN})
        assert answer.status_code == 303
        return client

    yield open_as
    for client in clients:
        client.close()
    for store in stores:
        store.close()


def _text(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def test_an_opened_sealed_incident_shows_its_content_and_who_it_is_sealed_to(
    pages: Any, served: _Served
) -> None:
    incident = served.world.state.incidents["inc-sealed"]
    reply = incident.thread[0]
    blue = pages(BLUE, {incident.index: WHOLE_NOTICE, reply.index: WHOLE_ANSWER})
    page = blue.get("/incidents/inc-sealed")
    text = _text(page)
    assert f"{TITLE} sealed" in text
    assert SUMMARY in text
    assert ANSWER_TEXT in text
    assert "gateway.pcap" in text  # the evidence list came out of the sealed content
    assert "Sealed content, opened by this node" in text
    assert f"sealed to blueland, redland: {NOTICE.blob.hex()[:12]}, 2222 bytes" in text
    assert 'data-sealed="opened"' in page.text
    assert page.headers["cache-control"] == "no-store"  # opened content is never cached
    assert "sealed to blueland, redland" in text  # the timeline badge
    dashboard = _text(blue.get("/"))
    assert TITLE in dashboard
    assert "Sealed incident" not in dashboard
    assert TITLE in _text(blue.get("/export"))


def test_a_sealed_incident_this_node_cannot_read_says_so(pages: Any, served: _Served) -> None:
    green = pages(GREEN, {})
    page = green.get("/incidents/inc-sealed")
    text = _text(page)
    assert "Sealed incident inc-sealed sealed" in text
    assert TITLE not in text
    assert SUMMARY not in text
    assert ANSWER_TEXT not in text
    assert "None" not in text  # no empty field rendered as Python's None
    assert (
        f"Its title, summary and evidence are sealed to blueland, redland: "
        f"{NOTICE.blob.hex()[:12]}, 2222 bytes. This node cannot read them." in text
    )
    assert f"Content sealed to blueland, redland: {ANSWER.blob.hex()[:12]}, 333 bytes" in text
    assert "The evidence list is sealed too." in text
    assert 'data-sealed="closed"' in page.text
    # The readable fields and the deadlines are there as for any incident.
    assert "request-for-assistance" in text
    assert "redland: answer due" in text
    dashboard = _text(green.get("/"))
    assert "Sealed incident inc-sealed sealed to blueland, redland" in dashboard
    assert "Scanning from your space" in dashboard
    assert "None" not in dashboard
    assert "inc-sealed: Sealed incident inc-sealed (sealed)" in _text(green.get("/export"))


def test_a_recipient_that_has_not_opened_it_yet_is_told_to_sync(
    pages: Any, served: _Served
) -> None:
    text = _text(pages(RED, {}).get("/incidents/inc-sealed"))
    assert "This node cannot read them yet: sync to fetch and open them." in text


def test_the_compose_form_explains_sealing_and_offers_more_readers(pages: Any) -> None:
    blue = pages(BLUE, {})
    text = _text(blue.get("/compose/incident.notify"))
    assert "content is sealed" in text
    assert "encrypted to you and the parties it is addressed to" in text
    assert "Also readable by (sealed content only)" in text
    page = blue.get("/compose/incident.notify").text
    assert re.search(r'<option value="AMBER"\s+selected', page)
    assert 'name="recipients" value="greenland"' in page
    ping = _text(blue.get("/compose/ping"))
    assert "never encrypted" in ping

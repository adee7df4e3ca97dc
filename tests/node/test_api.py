"""The node's local API over a real hub and witness on loopback (needs detente.node.sync)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("detente.node.sync", reason="detente.node.sync is not written yet")

import httpx

from detente.node.api import create_node_app
from detente.node.config import NodeDir
from detente.node.instance import Node, open_node
from detente.tlog.note import Ed25519Signer
from detente.transcript.bundle import Bundle
from detente.transcript.verify import verify_bundle
from group.scenario import BLUELAND, REDLAND, party_key
from node.hubwithwitness import WitnessedHub, witnessed_hub
from syncasgi import asgi_client

ACCORD = {
    "id": "election-accord",
    "title": "Election accord",
    "norms": ["UNGGE15-13f"],
    "parties": [BLUELAND, REDLAND],
}


def make_node(path: Path, party: str, hub_url: str) -> Path:
    skey = Ed25519Signer(party, party_key(party)).skey()
    NodeDir.create(path, party, hub_url, skey)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WitnessedHub, Node]]:
    root = tmp_path_factory.mktemp("api")
    with witnessed_hub(root) as hub, open_node(make_node(root / "blue", BLUELAND, hub.url)) as n:
        n.sync()
        yield hub, n


@pytest.fixture
def api(world: tuple[WitnessedHub, Node]) -> Iterator[httpx.Client]:
    node = world[1]
    with asgi_client(create_node_app(node)) as client:
        client.headers["Authorization"] = f"Bearer {node.api_token}"
        yield client


def test_token_required_except_gossip(world: tuple[WitnessedHub, Node]) -> None:
    with asgi_client(create_node_app(world[1])) as anonymous:
        refused = anonymous.get("/api/status")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        wrong = anonymous.get("/api/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        gossip = anonymous.get("/gossip/checkpoint")
        assert gossip.status_code == 200
        assert gossip.content.startswith(b"detente.test/hub\n")


def test_gossip_before_any_sync_is_a_problem_detail(tmp_path: Path) -> None:
    """A node that trusts no checkpoint yet answers its peers with a 404 problem detail."""
    root = make_node(tmp_path / "red", REDLAND, "http://127.0.0.1:9")  # never contacted
    with open_node(root) as fresh, asgi_client(create_node_app(fresh)) as anonymous:
        answer = anonymous.get("/gossip/checkpoint")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "trusts no checkpoint yet" in answer.json()["detail"]


def test_say_then_view_then_export(api: httpx.Client) -> None:
    said = api.post("/api/say/agreement.propose", json=ACCORD)
    assert said.status_code == 201, said.text
    assert said.json()["receipt"].startswith("c2sp.org/tlog-proof@v1\n")
    listed = api.get("/api/agreements").json()
    assert [a["id"] for a in listed] == ["election-accord"]
    assert api.get("/api/agreements/in-force").json() == []
    status = api.get("/api/status").json()
    assert status["trusting_hub"] is True
    assert status["size"] == said.json()["index"] + 1
    log = api.get("/api/log", params={"start": 0}).json()
    assert log["entries"][-1]["kind"] == "agreement.propose"
    exported = api.get("/api/export", params={"agreement": "election-accord"})
    assert exported.status_code == 200, exported.text
    transcript = verify_bundle(Bundle.from_bytes(exported.content).to_bytes())
    assert transcript is not None


def test_dry_run_submits_nothing(api: httpx.Client) -> None:
    before = api.get("/api/state").json()["size"]
    drafted = api.post(
        "/api/say/ping",
        params={"dry_run": "true"},
        json={"id": "p-1", "to": [REDLAND], "role": "technical", "reply_within_minutes": 5},
    )
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["statement"]["author"] == BLUELAND
    assert api.get("/api/state").json()["size"] == before


def test_refusal_is_a_problem_with_the_rule(api: httpx.Client) -> None:
    refused = api.post("/api/say/agreement.sign", json={"agreement": "no-such"})
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["rule"]
    assert "the hub refused" in problem["detail"]
    bad = api.post("/api/say/incident.respond", json={"incident": "x"})
    assert bad.status_code == 400
    assert "invalid body" in bad.json()["detail"]

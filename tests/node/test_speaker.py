"""The speaker against a real hub and a real witness on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from detente.errors import MalformedError, RejectedError
from detente.group.state import GroupState
from detente.node.speaker import Speaker, body_from_json, pings_to_ack
from detente.statements.kinds import AgreementPropose, AgreementSign, ContactRole, Ping, Tlp
from detente.statements.payload import entry_hash, open_entry
from detente.tlog.receipt import Receipt
from group.scenario import BLUELAND, REDLAND, party_key
from node.hubwithwitness import WitnessedHub, hub_client, witnessed_hub

ACCORD = AgreementPropose(
    id="election-accord",
    title="Election accord",
    norms=("UNGGE15-13f",),
    parties=(BLUELAND, REDLAND),
)


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessedHub]:
    with witnessed_hub(tmp_path_factory.mktemp("speaker")) as hub:
        yield hub
        while _CLIENTS:
            _CLIENTS.pop().close()


def _speaker(running: WitnessedHub, party: str, kept: list[tuple[int, bytes, bytes]]) -> Speaker:
    """A speaker whose verified view is, for this unit test, the hub's own state."""

    def view() -> GroupState:
        return running.hub.service.state

    _CLIENTS.append(hub_client(running))
    return Speaker(
        party=party,
        key=party_key(party),
        hub=_CLIENTS[-1],
        view=view,
        keep=lambda i, r, e: kept.append((i, r, e)),
    )


def test_say_chains_statements_and_keeps_verified_receipts(running: WitnessedHub) -> None:
    kept: list[tuple[int, bytes, bytes]] = []
    blue = _speaker(running, BLUELAND, kept)
    first = blue.say("agreement.propose", ACCORD)
    second = blue.say("agreement.propose", ACCORD.model_copy(update={"id": "second-accord"}))
    assert second.index == first.index + 1
    assert second.signed.statement.seq == first.signed.statement.seq + 1
    assert second.signed.statement.prev == entry_hash(first.entry)
    assert first.receipt is not None
    assert first.checkpoint is not None
    assert first.checkpoint.cosignatures  # the witness cosigned what the receipt proves
    assert [k[0] for k in kept] == [first.index, second.index]
    assert Receipt.from_bytes(kept[0][1]) == first.receipt
    assert kept[0][2] == first.entry
    logged = running.hub.store.read_entries(first.index, 1)[0]
    assert logged == first.entry
    assert open_entry(logged).statement.author == BLUELAND


def test_a_refusal_names_the_rule(running: WitnessedHub) -> None:
    red = _speaker(running, REDLAND, [])
    with pytest.raises(RejectedError) as refused:
        red.say("agreement.sign", AgreementSign(agreement="no-such-accord"))
    assert refused.value.rule
    assert "the hub refused the statement" in str(refused.value)
    # Nothing was logged, so the next statement still has the next seq.
    said = red.say("ping", Ping(id="red-ping-1", to=(BLUELAND,), role=ContactRole.TECHNICAL,
                                reply_within_minutes=30))  # fmt: skip
    assert said.signed.statement.seq == (running.hub.service.state.heads[REDLAND].seq)


def test_pings_are_acked_once(running: WitnessedHub) -> None:
    blue = _speaker(running, BLUELAND, [])
    red = _speaker(running, REDLAND, [])
    red.say("ping", Ping(id="red-ping-2", to=(BLUELAND,), role=ContactRole.TECHNICAL,
                         reply_within_minutes=30))  # fmt: skip
    assert "red-ping-2" in pings_to_ack(running.hub.service.state, BLUELAND)
    acks = blue.ack_pings()
    assert {a.signed.statement.body.model_dump()["ping"] for a in acks} >= {"red-ping-2"}
    assert "red-ping-2" not in pings_to_ack(running.hub.service.state, BLUELAND)
    assert blue.ack_pings() == []


def test_compose_is_what_gets_signed(running: WitnessedHub) -> None:
    blue = _speaker(running, BLUELAND, [])
    statement = blue.compose("ping", Ping(id="p-x", to=(REDLAND,), role=ContactRole.TECHNICAL,
                                          reply_within_minutes=5), tlp=Tlp.CLEAR)  # fmt: skip
    head = running.hub.service.state.heads[BLUELAND]
    assert statement.seq == head.seq + 1
    assert statement.prev == (None if head.seq == 0 else head.entry_hash)
    assert statement.group == running.hub.service.state.name


def test_body_from_json_is_strict() -> None:
    body = body_from_json("incident.respond", {"incident": "inc-1", "response": "deny",
                                               "text": "no"})  # fmt: skip
    assert json.loads(body.model_dump_json())["response"] == "deny"
    with pytest.raises(MalformedError, match=r"group\.genesis"):
        body_from_json("group.genesis", {})
    with pytest.raises(MalformedError, match="response"):
        body_from_json("incident.respond", {"incident": "inc-1", "response": "maybe",
                                            "text": "no"})  # fmt: skip

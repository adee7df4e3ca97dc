"""The hub over real HTTP: every refusal is a problem detail, with nothing stored."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from detente.statements.envelope import PAYLOAD_TYPE, Envelope, sign_envelope
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    ContactUpdate,
    IncidentNotify,
    IncidentRespond,
    NormPropose,
    PartyRotateKeys,
    Purpose,
    Response,
    Severity,
)
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt
from detente.tlog.tile import parse_entry_bundle
from group.scenario import AGE, BLUELAND, REDLAND, party_key, public_key
from hub.harness import STATEMENT, RunningHub, login, running_hub

GREENLAND = "greenland"
EMPTY_CONTACTS = ContactUpdate(contacts=())


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(tmp_path / "hub") as running:
        yield running


def at(hub: RunningHub, minutes: int) -> dt.datetime:
    return hub.start + dt.timedelta(minutes=minutes)


def refused(hub: RunningHub, response_status: int, rule: str, entry: bytes) -> dict[str, object]:
    """Submit ``entry``; check the status, the problem detail and that nothing was stored."""
    before = hub.size()
    digest = hub.http.get("/v1/state").json()["digest"]
    response = hub.post(entry)
    assert response.status_code == response_status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response_status
    assert problem["rule"] == rule
    assert problem["title"]
    assert problem["detail"]
    assert hub.size() == before, "a refused statement was stored"
    assert hub.http.get("/v1/state").json()["digest"] == digest
    return problem


def accepted(hub: RunningHub, entry: bytes) -> int:
    response = hub.post(entry)
    assert response.status_code == 201, response.text
    index: int = response.json()["index"]
    return index


def test_one_statement_is_logged_and_gets_a_receipt(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1))
    response = hub.post(entry, wait="receipt")
    assert response.status_code == 201
    body = response.json()
    assert body["index"] == 1
    receipt = Receipt.from_bytes(body["receipt"].encode())
    verify_receipt(receipt, entry, parse_vkey(hub.directory.log.vkey))
    served = hub.http.get("/v1/receipts/1")
    assert served.status_code == 200
    assert Receipt.from_bytes(served.content).index == 1
    assert hub.http.get("/v1/receipts/2").status_code == 404
    assert hub.http.get("/v1/state").json()["size"] == 2
    assert hub.http.get("/log/checkpoint").status_code == 200


def test_bad_signature(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1), signers=[REDLAND], advance=False)
    refused(hub, 403, "bad-signature", entry)


def test_unknown_author(hub: RunningHub) -> None:
    entry = hub.chain.make("yellowland", EMPTY_CONTACTS, at(hub, 1), advance=False)
    refused(hub, 422, "unknown-author", entry)


def test_revoked_key(hub: RunningHub) -> None:
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    accepted(hub, hub.chain.make(BLUELAND, rotate, at(hub, 1), signers=[BLUELAND, "blueland/2"]))
    old = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 2), signers=[BLUELAND], advance=False)
    refused(hub, 403, "revoked-key", old)


def _resigned(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    envelope = sign_envelope(payload, [party_key(BLUELAND)])
    wire = json.loads(envelope.to_bytes())
    wire["payloadType"] = payload_type
    return json.dumps(wire, sort_keys=True, separators=(",", ":")).encode()


def test_wrong_payload_type(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1), advance=False)
    payload = Envelope.from_bytes(entry).payload
    problem = refused(hub, 400, "malformed", _resigned(payload, "application/vnd.in-toto+json"))
    assert "payloadType" in str(problem["detail"])


def test_unknown_field(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1), advance=False)
    payload = json.loads(Envelope.from_bytes(entry).payload)
    payload["body"]["color"] = "blue"
    text = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    problem = refused(hub, 400, "malformed", _resigned(text))
    assert "color" in str(problem["detail"])


def test_replayed_statement(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1))
    accepted(hub, entry)
    refused(hub, 409, "replay", entry)


def test_seq_gap(hub: RunningHub) -> None:
    accepted(hub, hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1)))
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 2), seq=3, advance=False)
    refused(hub, 422, "seq-gap", entry)


def test_forked_chain(hub: RunningHub) -> None:
    accepted(hub, hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1)))
    head_seq, head = hub.chain.heads[BLUELAND]
    first = hub.chain.make(BLUELAND, ContactUpdate(contacts=()), at(hub, 2))
    accepted(hub, first)
    # A second statement with the same prev (and seq) as ``first``: a fork of the chain.
    other = NormPropose(id="WG-OTHER", title="Other", text="Another norm.", provenance=())
    fork = hub.chain.make(BLUELAND, other, at(hub, 2), seq=head_seq + 1, prev=head, advance=False)
    refused(hub, 409, "fork", fork)


def _incident(hub: RunningHub, **changes: object) -> IncidentNotify:
    fields: dict[str, object] = {
        "id": "inc-1",
        "purpose": Purpose.NOTIFICATION,
        "to": (REDLAND,),
        "title": "Scanning",
        "summary": "Scanning of our election servers.",
        "severity": Severity.MEDIUM,
        "norms": (),
        "evidence": (),
    }
    fields.update(changes)
    return IncidentNotify.model_validate(fields)


def test_answer_by_non_addressee(hub: RunningHub) -> None:
    accepted(hub, hub.chain.make(BLUELAND, _incident(hub), at(hub, 1)))
    answer = IncidentRespond(incident="inc-1", response=Response.ANSWER, text="Not us.")
    entry = hub.chain.make(GREENLAND, answer, at(hub, 2), advance=False)
    refused(hub, 422, "not-addressee", entry)


def _accord(hub: RunningHub) -> None:
    accord = AgreementPropose(
        id="accord", title="Accord", norms=("UNGGE15-13f",), parties=(BLUELAND, REDLAND)
    )
    accepted(hub, hub.chain.make(BLUELAND, accord, at(hub, 1)))


def test_allegation_naming_a_norm_not_in_force(hub: RunningHub) -> None:
    _accord(hub)
    accepted(hub, hub.chain.make(REDLAND, AgreementSign(agreement="accord"), at(hub, 2)))
    allegation = _incident(
        hub, purpose=Purpose.ALLEGATION, agreement="accord", norms=("UNGGE15-13c",)
    )
    entry = hub.chain.make(BLUELAND, allegation, at(hub, 3), advance=False)
    refused(hub, 422, "norm-not-in-force", entry)


def test_signature_on_an_agreement_by_a_non_party(hub: RunningHub) -> None:
    _accord(hub)
    entry = hub.chain.make(GREENLAND, AgreementSign(agreement="accord"), at(hub, 2), advance=False)
    refused(hub, 422, "not-a-party", entry)


def test_oversized_statement(hub: RunningHub) -> None:
    refused(hub, 413, "too-large", b"{" + b" " * 70_000 + b"}")


def test_malformed_json(hub: RunningHub) -> None:
    refused(hub, 400, "malformed", b'{"payload": ')


def test_unsupported_content_type(hub: RunningHub) -> None:
    entry = hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1), advance=False)
    response = hub.http.post(
        "/v1/statements", content=entry, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert hub.size() == 1


def test_batch_is_all_or_nothing(hub: RunningHub) -> None:
    good = [hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1), advance=False)]
    bad = hub.chain.make(REDLAND, EMPTY_CONTACTS, at(hub, 1), signers=[BLUELAND], advance=False)
    body = "[" + ",".join(e.decode() for e in [*good, bad]) + "]"
    response = hub.http.post(
        "/v1/statements/batch", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 403
    problem = response.json()
    assert problem["position"] == 1
    assert problem["rule"] == "bad-signature"
    assert hub.size() == 1, "nothing of a refused batch is stored"
    # The same batch without the bad statement goes in whole, in order.
    entries = [
        hub.chain.make(BLUELAND, EMPTY_CONTACTS, at(hub, 1)),
        hub.chain.make(REDLAND, EMPTY_CONTACTS, at(hub, 1)),
    ]
    body = "[" + ",".join(e.decode() for e in entries) + "]"
    response = hub.http.post(
        "/v1/statements/batch",
        content=body,
        headers={"Content-Type": "application/json"},
        params={"wait": "receipt"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["indices"] == [1, 2]
    for entry, text in zip(entries, response.json()["receipts"], strict=True):
        verify_receipt(Receipt.from_bytes(text.encode()), entry, parse_vkey(hub.directory.log.vkey))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        (b'{"a": 1}', 400),
        (b"[1]", 400),
    ],
)
def test_malformed_batches(hub: RunningHub, body: bytes, status: int) -> None:
    response = hub.http.post(
        "/v1/statements/batch", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["rule"] == "malformed"
    assert hub.size() == 1


def test_members_only_views(hub: RunningHub) -> None:
    accepted(hub, hub.chain.make(BLUELAND, _incident(hub), at(hub, 1)))
    for path in ("/v1/parties", "/v1/agreements", "/v1/incidents", "/v1/incidents/inc-1"):
        response = hub.http.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    headers = login(hub.http, REDLAND)
    parties = hub.http.get("/v1/parties", headers=headers).json()
    assert [p["id"] for p in parties] == [BLUELAND, GREENLAND, REDLAND]
    assert parties[0]["signing_key"] == base64.b64encode(public_key(BLUELAND)).decode()
    incident = hub.http.get("/v1/incidents/inc-1", headers=headers).json()
    assert incident["to"] == [REDLAND]
    assert {d["duty"] for d in incident["deadlines"]} == {"acknowledge", "answer"}
    assert hub.http.get("/v1/incidents/nope", headers=headers).status_code == 404
    entries = hub.http.get("/v1/entries", params={"start": 0, "end": 2}, headers=headers).json()
    assert len(entries["entries"]) == 2
    assert hub.http.get("/v1/entries?start=0&end=9", headers=headers).status_code == 404
    assert hub.http.get("/v1/entries?start=0&end=2").status_code == 401


def test_entry_bundles_are_for_members_while_tiles_and_checkpoints_are_public(
    hub: RunningHub,
) -> None:
    accepted(hub, hub.chain.make(BLUELAND, _incident(hub), at(hub, 1)))
    size = hub.http.get("/v1/state").json()["size"]
    assert hub.http.get("/log/checkpoint").status_code == 200
    assert hub.http.get(f"/log/tile/0/000.p/{size}").status_code == 200
    bundle = f"/log/tile/entries/000.p/{size}"
    refused = hub.http.get(bundle)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    response = hub.http.get(bundle, headers=login(hub.http, REDLAND))
    assert response.status_code == 200
    assert len(parse_entry_bundle(response.content, size)) == size


def test_openapi_is_published(hub: RunningHub) -> None:
    spec = hub.http.get("/openapi.json").json()
    for path in ("/v1/statements", "/v1/statements/batch", "/v1/receipts/{index}"):
        assert path in spec["paths"]
    assert spec["paths"]["/v1/statements"]["post"]["summary"]
    assert STATEMENT["Content-Type"] in json.dumps(spec["paths"]["/v1/statements"])

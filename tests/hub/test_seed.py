"""The seed scenario through a real hub and a real witness on loopback, SQLite and PostgreSQL.

Each statement is submitted over HTTP with ``?wait=receipt``; each receipt is verified offline
with the log key and the witness key (quorum 1); then ``rebuild`` replays the log from
genesis to the state digest the hub served, and ``detente hub rebuild`` says so too.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from detente.cli import app as cli
from detente.hub.app import create_hub_app
from detente.hub.config import HubDir
from detente.hub.instance import found, open_hub, rebuild
from detente.serving import BackgroundServer
from detente.statements.kinds import WitnessKey
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir
from group.scenario import ACCORD, INCIDENT, REDLAND, build_seed_scenario
from hub.harness import ORIGIN, STATEMENT, issued_start, login
from tlog.logtrees import BACKENDS, store_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_scenario_against_a_real_hub(tmp_path: Path, backend: str) -> None:
    witness_dir = tmp_path / "witness"
    witness_vkey = witness_config.init(witness_dir, "detente.test/witness")
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(store_url(backend, tmp_path))
        hub_dir = HubDir.create(tmp_path / "hub", ORIGIN, database)
        witness_config.add_log(witness_dir, hub_dir.log.vkey)
        witness_app = witness_app_from_dir(witness_dir, lambda: int(time.time()))
        witness = stack.enter_context(BackgroundServer(witness_app))
        entries = build_seed_scenario(
            issued_start(),
            log_origin=ORIGIN,
            log_vkey=hub_dir.log.vkey,
            witnesses=[WitnessKey(vkey=witness_vkey, url=witness.url)],
            witness_quorum=1,
        )
        _, published = found(hub_dir, entries[0])
        assert published, "the witness cosigned the genesis checkpoint"
        log_key = parse_vkey(hub_dir.log.vkey)
        witness_key = parse_vkey(witness_vkey)

        with (
            open_hub(HubDir.open(tmp_path / "hub")) as hub,
            BackgroundServer(create_hub_app(hub)) as server,
            httpx.Client(base_url=server.url, timeout=30.0) as http,
        ):
            genesis_receipt = Receipt.from_bytes(http.get("/v1/receipts/0").content)
            verify_receipt(genesis_receipt, entries[0], log_key, [witness_key], 1)
            for index, entry in enumerate(entries[1:], 1):
                response = http.post(
                    "/v1/statements",
                    content=entry,
                    headers=STATEMENT,
                    params={"wait": "receipt"},
                )
                assert response.status_code == 201, response.text
                body = response.json()
                assert body["index"] == index
                receipt = Receipt.from_bytes(body["receipt"].encode())
                signed = verify_receipt(receipt, entry, log_key, [witness_key], 1)
                assert signed.checkpoint.size > index
                assert [name for name, _ in signed.cosignatures] == ["detente.test/witness"]
            served = http.get("/v1/state").json()
            assert served["size"] == len(entries)
            headers = login(http, REDLAND)
            agreements = http.get("/v1/agreements", headers=headers).json()
            assert [(a["id"], a["status"]) for a in agreements] == [(ACCORD, "in-force")]
            incident = http.get(f"/v1/incidents/{INCIDENT}", headers=headers).json()
            assert [r["response"] for r in incident["thread"]] == ["deny"]
            assert len(incident["consultations"][0]["records"]) == 1

        result = rebuild(HubDir.open(tmp_path / "hub"))
        assert result.replayed.hex() == served["digest"]
        assert result.equal
        assert result.stored_size == len(entries)

        outcome = CliRunner().invoke(cli, ["hub", "rebuild", "--data", str(tmp_path / "hub")])
        assert outcome.exit_code == 0, outcome.output
        assert served["digest"] in outcome.output

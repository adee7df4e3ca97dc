"""``detente verify BUNDLE``: exit 0 valid, 3 does not verify, 1 malformed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.cli import app
from detente.transcript import Bundle, LoggedEntry, Subject
from group.scenario import INCIDENT, build_seed_scenario
from transcript.seedlog import (
    LOG_SIGNER,
    ORIGIN,
    START,
    WITNESS_KEYS,
    export,
    open_log,
    seed_batches,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    entries = build_seed_scenario(
        START,
        log_origin=ORIGIN,
        log_vkey=LOG_SIGNER.vkey(),
        witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )
    return export(
        open_log(tmp_path_factory.mktemp("cli"), seed_batches(entries)), Subject.incident(INCIDENT)
    )


def test_verify_prints_the_transcript_and_verdict(bundle: Bundle, tmp_path: Path) -> None:
    path = tmp_path / "incident.json"
    path.write_bytes(bundle.to_bytes())
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output
    assert "VALID" in result.output
    assert bundle_genesis_digest(bundle) in result.output
    assert "incident.respond" in result.output
    assert "nothing overdue" in result.output


def bundle_genesis_digest(bundle: Bundle) -> str:
    from detente.statements.payload import entry_hash

    return entry_hash(bundle.genesis.entry).hex()


def test_a_changed_proof_exits_3(bundle: Bundle, tmp_path: Path) -> None:
    first = bundle.statements[0]
    proof = (bytes([first.proof[0][0] ^ 1]) + first.proof[0][1:], *first.proof[1:])
    changed = LoggedEntry(first.index, first.entry, proof)
    path = tmp_path / "forged.json"
    forged = dataclasses.replace(bundle, statements=(changed, *bundle.statements[1:]))
    path.write_bytes(forged.to_bytes())
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 3, result.output
    assert "DOES NOT VERIFY" in result.output


def test_garbage_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(b"{not json")
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 1, result.output
    assert "MALFORMED" in result.output
    missing = runner.invoke(app, ["verify", str(tmp_path / "absent.json")])
    assert missing.exit_code == 1

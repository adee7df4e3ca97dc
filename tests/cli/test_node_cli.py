"""``detente node init`` and the ``say`` option parsing, from the command line."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.cli._node import node_app
from detente.cli._say import evidence_of, parse_duration
from detente.errors import MalformedError
from detente.node.config import NodeDir
from detente.statements.kinds import PartyKeys


def test_node_init_prints_keys_and_writes_identity(tmp_path: Path) -> None:
    node = tmp_path / "blue"
    result = CliRunner().invoke(
        node_app, ["init", "blueland", "--hub", "http://127.0.0.1:8800", "--node", str(node)]
    )
    assert result.exit_code == 0, result.output
    keys = PartyKeys.model_validate_json((node / "party.json").read_text(), strict=False)
    assert keys.id == "blueland"
    assert keys.signing_key == NodeDir.open(node).public_key()
    assert base64.b64encode(keys.signing_key).decode() in result.output
    again = CliRunner().invoke(
        node_app, ["init", "blueland", "--hub", "http://127.0.0.1:8800", "--node", str(node)]
    )
    assert again.exit_code == 1


def test_durations() -> None:
    assert parse_duration("72h") == dt.timedelta(hours=72)
    assert parse_duration("1d12h") == dt.timedelta(hours=36)
    assert parse_duration("90m") == dt.timedelta(minutes=90)
    for bad in ("", "72", "h", "0h", "3x", "1h 2"):
        with pytest.raises(MalformedError):
            parse_duration(bad)


def test_evidence_is_referenced_by_hash(tmp_path: Path) -> None:
    file = tmp_path / "capture.json"
    file.write_bytes(json.dumps({"a": 1}).encode())
    evidence = evidence_of(file)
    assert evidence.sha256 == hashlib.sha256(file.read_bytes()).digest()
    assert evidence.size == file.stat().st_size
    assert evidence.name == "capture.json"
    assert evidence.media_type == "application/json"

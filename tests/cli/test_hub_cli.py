"""Founding a group from the command line: party keys, genesis draft, signatures, hub found."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from detente.cli import app

AGE_A = "age1" + "q" * 58
AGE_B = "age1" + "p" * 58


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_found_a_group(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    vkey = _run("hub", "init", "--data", str(hub), "--origin", "example.org/g").splitlines()[-1]
    for party, age in (("blueland", AGE_A), ("redland", AGE_B)):
        _run("party", "new", party, "--name", party.title(), "--encryption-key", age,
             "--out", str(tmp_path))  # fmt: skip
    draft = tmp_path / "genesis.json"
    _run("group", "genesis", "--group", "blue-red", "--title", "Blue-Red hotline",
         "--party", str(tmp_path / "blueland.json"), "--party", str(tmp_path / "redland.json"),
         "--log-origin", "example.org/g", "--log-vkey", vkey, "--out", str(draft))  # fmt: skip
    assert json.loads(draft.read_bytes())["kind"] == "group.genesis"
    _run("statement", "sign", str(draft), "--key", str(tmp_path / "blueland.key"))
    # Only one founder signed: the hub refuses it, and logs nothing.
    refused = CliRunner().invoke(app, ["hub", "found", "--data", str(hub), str(draft)])
    assert refused.exit_code == 1
    assert "redland" in refused.output
    _run("statement", "sign", str(draft), "--key", str(tmp_path / "redland.key"))
    assert "founded" in _run("hub", "found", "--data", str(hub), str(draft))
    assert "EQUAL" in _run("hub", "rebuild", "--data", str(hub))

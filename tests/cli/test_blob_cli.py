"""``detente node export-identity`` and ``detente blob get`` from the command line."""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from detente.cli._blob import blob_app, export_identity_cmd
from detente.crypto.age import (
    IDENTITY_FILE,
    Identity,
    add_identity,
    encrypt_stream,
    load_identity,
    save_identity,
)
from detente.node.config import NodeDir

AGE = "/usr/bin/age"


def _node(tmp_path: Path) -> tuple[Path, Identity]:
    node = tmp_path / "node"
    NodeDir.create(node, "blueland", "http://127.0.0.1:9")
    identity = Identity.generate()
    save_identity(node / IDENTITY_FILE, identity, dt.datetime.now(dt.UTC))
    return node, identity


def test_export_identity_for_the_age_tool(tmp_path: Path) -> None:
    node, identity = _node(tmp_path)
    app = typer.Typer()
    app.command()(export_identity_cmd)
    out = tmp_path / "identity.txt"
    result = CliRunner().invoke(app, ["--node", str(node), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(identity.recipient) in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_identity(out) == identity
    again = CliRunner().invoke(app, ["--node", str(node), "--out", str(out)])
    assert again.exit_code == 1  # never overwritten


def test_export_without_identity_fails_clearly(tmp_path: Path) -> None:
    node = tmp_path / "node"
    NodeDir.create(node, "blueland", "http://127.0.0.1:9")
    app = typer.Typer()
    app.command()(export_identity_cmd)
    result = CliRunner().invoke(app, ["--node", str(node), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "no age identity" in result.output


def test_get_refuses_bad_hash_and_existing_output(tmp_path: Path) -> None:
    node, _ = _node(tmp_path)
    bad = CliRunner().invoke(
        blob_app, ["get", "xyz", "--out", str(tmp_path / "o"), "--node", str(node)]
    )
    assert bad.exit_code == 1
    assert "64 lowercase hex" in bad.output
    (tmp_path / "o").write_text("mine")
    exists = CliRunner().invoke(
        blob_app, ["get", "0" * 64, "--out", str(tmp_path / "o"), "--node", str(node)]
    )
    assert exists.exit_code == 1
    assert (tmp_path / "o").read_text() == "mine"


def test_the_age_tool_decrypts_with_the_exported_identities(tmp_path: Path) -> None:
    """Issue 5: the exported file works with the standard age tool, old identities included."""
    if not Path(AGE).exists():
        if os.environ.get("DETENTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{AGE} is missing (Debian package age) and DETENTE_REQUIRE_BROWSER=1")
        pytest.skip(f"{AGE} is missing (install the Debian package age)")
    node, old = _node(tmp_path)
    new = Identity.generate()
    add_identity(node / IDENTITY_FILE, new, dt.datetime.now(dt.UTC))  # as after a rotation
    app = typer.Typer()
    app.command()(export_identity_cmd)
    exported = tmp_path / "identity.txt"
    result = CliRunner().invoke(app, ["--node", str(node), "--out", str(exported)])
    assert result.exit_code == 0, result.output
    for identity, text in ((old, b"sealed before the rotation"), (new, b"sealed after it")):
        sealed = io.BytesIO()
        encrypt_stream(io.BytesIO(text), sealed, [identity.recipient])
        blob = tmp_path / "blob.age"
        blob.write_bytes(sealed.getvalue())
        opened = subprocess.run(
            [AGE, "--decrypt", "-i", str(exported), str(blob)],
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert opened.stdout == text

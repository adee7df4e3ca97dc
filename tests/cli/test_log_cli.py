"""The ``detente`` command end to end: keys, log, witness, receipts, sandbox."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.cli import app
from detente.serving import BackgroundServer
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt
from detente.witness.app import witness_app_from_dir

runner = CliRunner()
ORIGIN = "test.detente.localhost/log"


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def log_dir(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "log"
    code, out = run("log", "init", "--data", data, "--origin", ORIGIN)
    assert code == 0, out
    return data, last_line(out)


def entry_files(tmp_path: Path, n: int) -> list[Path]:
    files = []
    for i in range(n):
        f = tmp_path / f"e{i}.txt"
        f.write_bytes(f"entry {i}\n".encode())
        files.append(f)
    return files


def test_keys_new_writes_a_private_file_and_prints_the_vkey(tmp_path: Path) -> None:
    key = tmp_path / "w.key"
    code, out = run("keys", "new", "w1.example", "--out", key, "--cosigner")
    assert code == 0, out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("PRIVATE+KEY+w1.example+")
    verifier = parse_vkey(last_line(out))
    assert verifier.name == "w1.example"
    code, out = run("keys", "new", "w1.example", "--out", key)
    assert code == 1
    assert "refusing to overwrite" in out


def test_log_init_prints_vkey_and_refuses_a_second_init(log_dir: tuple[Path, str]) -> None:
    data, vkey = log_dir
    assert parse_vkey(vkey).name == ORIGIN
    before = (data / "log.key").read_bytes()
    code, out = run("log", "init", "--data", data, "--origin", ORIGIN)
    assert code == 1
    assert "already holds a log" in out
    assert (data / "log.key").read_bytes() == before


@pytest.mark.parametrize("origin", ["", "has space", "a+b"])
def test_log_init_refuses_bad_origins(tmp_path: Path, origin: str) -> None:
    code, out = run("log", "init", "--data", tmp_path / "x", "--origin", origin)
    assert code == 1
    assert "origin" in out
    assert not (tmp_path / "x" / "log.key").exists()


def test_append_prove_and_verify_offline(tmp_path: Path, log_dir: tuple[Path, str]) -> None:
    data, vkey = log_dir
    files = entry_files(tmp_path, 3)
    code, out = run("log", "append", "--data", data, *files)
    assert code == 0, out
    assert out.splitlines() == [f"{i}\t{f}" for i, f in enumerate(files)]

    receipt = tmp_path / "r1.tlog-proof"
    code, out = run("log", "prove", "--data", data, "1", "--out", receipt)
    assert code == 0, out
    assert Receipt.from_bytes(receipt.read_bytes()).index == 1

    code, out = run("verify-receipt", receipt, "--entry", files[1], "--log-key", vkey)
    assert code == 0, out
    assert "VALID" in out
    # The right receipt for the wrong entry: well-formed but false.
    code, out = run("verify-receipt", receipt, "--entry", files[2], "--log-key", vkey)
    assert code == 3
    assert "verification failed" in out
    # A garbled receipt is told apart from a false one.
    receipt.write_bytes(receipt.read_bytes().replace(b"index 1", b"index one"))
    code, out = run("verify-receipt", receipt, "--entry", files[1], "--log-key", vkey)
    assert code == 1
    assert "error" in out


def test_prove_refuses_an_index_beyond_the_log(log_dir: tuple[Path, str]) -> None:
    data, _ = log_dir
    code, out = run("log", "prove", "--data", data, "0")
    assert code == 1
    assert "not covered by a published checkpoint" in out


def test_oversized_entry_is_refused_and_nothing_is_stored(
    tmp_path: Path, log_dir: tuple[Path, str]
) -> None:
    data, _ = log_dir
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"fits")
    big.write_bytes(b"x" * 65_536)
    code, out = run("log", "append", "--data", data, small, big)
    assert code == 1
    assert "65" in out
    code, out = run("log", "status", "--data", data)
    assert code == 0
    assert "size 0" in out


def test_append_with_a_witness_publishes_cosigned_and_waits_for_quorum(
    tmp_path: Path, log_dir: tuple[Path, str]
) -> None:
    data, log_vkey = log_dir
    wdir = tmp_path / "witness"
    code, out = run("witness", "init", "--data", wdir, "--name", "w1.test", "--trust", log_vkey)
    assert code == 0, out
    witness_vkey = last_line(out)
    port = free_port()
    code, out = run(
        "log", "add-witness", "--data", data, "--vkey", witness_vkey,
        "--url", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    assert code == 0, out
    files = entry_files(tmp_path, 2)

    # Witness down: entries are durable, the checkpoint is signed but not published.
    code, out = run("log", "append", "--data", data, files[0])
    assert code == 4
    assert "not published" in out
    code, out = run("log", "prove", "--data", data, "0")
    assert code == 1

    with BackgroundServer(witness_app_from_dir(wdir, lambda: 1_700_000_000), port=port):
        code, out = run("log", "publish", "--data", data)
        assert code == 0, out
        assert "size 1" in out
        code, out = run("log", "append", "--data", data, files[1])
        assert code == 0, out
    receipt = tmp_path / "r.tlog-proof"
    code, out = run("log", "prove", "--data", data, "1", "--out", receipt)
    assert code == 0, out
    args = ["--entry", files[1], "--log-key", log_vkey, "--witness-key", witness_vkey]
    code, out = run("verify-receipt", receipt, *args)
    assert code == 0, out
    assert "w1.test" in out
    # A quorum the receipt cannot meet fails verification.
    other = tmp_path / "other.key"
    code, out = run("keys", "new", "w2.test", "--out", other, "--cosigner")
    code, out = run("verify-receipt", receipt, *args, "--witness-key", last_line(out))
    assert code == 3
    assert "needed 2, found 1" in out


def test_sandbox_once_walks_through_and_exits(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    ports = ["--log-port", str(free_port()), "--witness-port", str(free_port())]
    code, out = run("log", "sandbox", "--data", data, "--once", *ports)
    assert code == 0, out
    assert "cosigned by" in out
    assert "detente verify-receipt" in out
    receipts = sorted(data.glob("receipt-*.tlog-proof"))
    assert len(receipts) == 1
    # A second run continues the same log, consistent with what the witness cosigned.
    code, out = run("log", "sandbox", "--data", data, "--once", *ports)
    assert code == 0, out
    assert len(list(data.glob("receipt-*.tlog-proof"))) == 2
    assert os.path.exists(data / "client-state.note")

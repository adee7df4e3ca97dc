"""A real hub, a real witness and two member nodes, each a separate process on loopback.

The hub and the witness run as ``python -m detente hub serve`` / ``witness serve``; each node
is ``python -m detente node init`` then ``node sync`` (its own process each time). The test
then reads each node's own database: its state digest equals the hub's, and so does the
digest of a node re-synced from an empty database.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from detente.crypto.keyfile import write_secret
from detente.hub.config import HubDir
from detente.hub.instance import found
from detente.node.config import NodeDir
from detente.node.store import NodeStore
from detente.statements.kinds import WitnessKey
from detente.tlog.note import Ed25519Signer
from detente.witness import config as witness_config
from group.scenario import BLUELAND, REDLAND, build_seed_scenario, party_key
from hub.harness import ORIGIN, issued_start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _detente(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detente", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@contextlib.contextmanager
def _serving(url: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "detente", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1.0)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"{' '.join(args)} did not start: {stderr}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def _node_digest(path: Path) -> tuple[int, str]:
    directory = NodeDir.open(path)
    secret = directory.private_key().private_bytes_raw()
    with NodeStore.open(directory.database, secret) as store:
        state = store.state()
        assert state is not None
        return state.size, state.digest().hex()


def test_hub_witness_and_two_nodes_as_processes(tmp_path: Path) -> None:
    witness_port, hub_port = _free_port(), _free_port()
    witness_url, hub_url = f"http://127.0.0.1:{witness_port}", f"http://127.0.0.1:{hub_port}"
    witness_dir, hub_path = tmp_path / "witness", tmp_path / "hub"
    witness_vkey = witness_config.init(witness_dir, "detente.test/witness")
    hub_dir = HubDir.create(hub_path, ORIGIN)
    witness_config.add_log(witness_dir, hub_dir.log.vkey)
    entries = build_seed_scenario(
        issued_start(),
        log_origin=ORIGIN,
        log_vkey=hub_dir.log.vkey,
        witnesses=[WitnessKey(vkey=witness_vkey, url=witness_url)],
        witness_quorum=1,
    )
    witness_args = ("witness", "serve", "--data", str(witness_dir), "--port", str(witness_port))
    with _serving(witness_url + "/add-checkpoint", *witness_args):
        _, published = found(hub_dir, entries[0])
        assert published
        hub_args = ("hub", "serve", "--data", str(hub_path), "--port", str(hub_port))
        with _serving(hub_url + "/v1/state", *hub_args), httpx.Client(base_url=hub_url) as http:
            content = b"[" + b",".join(entries[1:]) + b"]"
            answer = http.post(
                "/v1/statements/batch",
                content=content,
                headers={"Content-Type": "application/json"},
                params={"wait": "receipt"},
            )
            assert answer.status_code == 201, answer.text
            served = http.get("/v1/state").json()
            assert served["size"] == len(entries)

            for party in (BLUELAND, REDLAND):
                key_file = tmp_path / f"{party}.key"
                write_secret(key_file, Ed25519Signer(party, party_key(party)).skey())
                node = tmp_path / f"node-{party}"
                made = _detente(
                    "node", "init", party, "--hub", hub_url, "--node", str(node),
                    "--key", str(key_file), "--log-vkey", hub_dir.log.vkey,
                )  # fmt: skip
                assert made.returncode == 0, made.stderr
                synced = _detente("node", "sync", "--node", str(node))
                assert synced.returncode == 0, synced.stdout + synced.stderr
                assert _node_digest(node) == (len(entries), served["digest"])

            # A full re-sync from an empty node database reaches the same digest.
            (tmp_path / f"node-{REDLAND}" / "node.db").unlink()
            for suffix in ("-wal", "-shm"):
                (tmp_path / f"node-{REDLAND}" / f"node.db{suffix}").unlink(missing_ok=True)
            again = _detente("node", "sync", "--node", str(tmp_path / f"node-{REDLAND}"))
            assert again.returncode == 0, again.stdout + again.stderr
            assert _node_digest(tmp_path / f"node-{REDLAND}") == (len(entries), served["digest"])

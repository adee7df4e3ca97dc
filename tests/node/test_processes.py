"""A real hub, a real witness and two member nodes, each a separate process on loopback.

The hub and the witness run as ``python -m detente hub serve`` / ``witness serve``. In the first
test each node is ``python -m detente node init`` then one-shot ``node sync`` processes, and
the test reads each node's own database; in the second each node is a long-lived
``node serve`` process, driven and read only through its HTTP API. Either way a node's state
digest equals the hub's, and so does that of a node re-synced from an empty database.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def _seeded_hub(tmp_path: Path) -> Iterator[tuple[httpx.Client, HubDir, list[bytes]]]:
    """A witness and a hub, each its own process, with the seed scenario logged through the
    hub's HTTP API: (a client of the hub, its directory, the entries)."""
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
        with (
            _serving(hub_url + "/v1/state", *hub_args),
            httpx.Client(base_url=hub_url, timeout=30) as http,
        ):
            answer = http.post(
                "/v1/statements/batch",
                content=b"[" + b",".join(entries[1:]) + b"]",
                headers={"Content-Type": "application/json"},
                params={"wait": "receipt"},
            )
            assert answer.status_code == 201, answer.text
            yield http, hub_dir, entries


def test_hub_witness_and_two_nodes_as_processes(tmp_path: Path) -> None:
    with _seeded_hub(tmp_path) as (http, hub_dir, entries):
        hub_url = str(http.base_url).rstrip("/")
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


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_nodes_serving_as_processes_speak_and_follow_the_hub(tmp_path: Path) -> None:
    """Both nodes run ``detente node serve`` (long-lived processes that sync on their own):
    Blueland pings Redland through its node's API, Redland's node acks on its own, and both
    nodes' state digests equal the hub's; so does Redland's after a restart on an empty
    database."""
    ports = {BLUELAND: _free_port(), REDLAND: _free_port()}
    nodes = {party: tmp_path / f"node-{party}" for party in ports}
    with contextlib.ExitStack() as stack:
        hub, hub_dir, entries = stack.enter_context(_seeded_hub(tmp_path))
        hub_url = str(hub.base_url).rstrip("/")

        def serve(party: str) -> subprocess.Popen[bytes]:
            args = ("node", "serve", "--node", str(nodes[party]), "--every", "0.5",
                    "--port", str(ports[party]))  # fmt: skip
            return stack.enter_context(
                _serving(f"http://127.0.0.1:{ports[party]}/api/status", *args)
            )

        def api(party: str) -> httpx.Client:
            token = (nodes[party] / "api.token").read_text().strip()
            return stack.enter_context(
                httpx.Client(
                    base_url=f"http://127.0.0.1:{ports[party]}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )

        for party in ports:
            key_file = tmp_path / f"{party}.key"
            write_secret(key_file, Ed25519Signer(party, party_key(party)).skey())
            made = _detente(
                "node", "init", party, "--hub", hub_url, "--node", str(nodes[party]),
                "--key", str(key_file), "--log-vkey", hub_dir.log.vkey,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
        redland = serve(REDLAND)
        serve(BLUELAND)
        clients = {party: api(party) for party in ports}

        def agree() -> bool:
            served = hub.get("/v1/state").json()
            mine = [clients[party].get("/api/state").json() for party in ports]
            return all(
                (state["size"], state["digest"]) == (served["size"], served["digest"])
                for state in mine
            )

        _wait_for(agree, "both serving nodes to reach the hub's digest")
        said = clients[BLUELAND].post(
            "/api/say/ping",
            json={"id": "proc-ping", "to": [REDLAND], "role": "technical",
                  "reply_within_minutes": 30},
        )  # fmt: skip
        assert said.status_code == 201, said.text

        def acked() -> bool:
            pings = clients[BLUELAND].get("/api/state").json()
            return bool(pings["size"] >= len(entries) + 2) and agree()

        _wait_for(acked, "Redland's node to ack the ping on its own, and both to agree")
        log = clients[BLUELAND].get("/api/log", params={"start": len(entries)}).json()
        kinds = [entry["kind"] for entry in log["entries"]]
        assert kinds[:2] == ["ping", "ping.ack"], kinds

        # Restart Redland's node on an empty database: it catches up from genesis on its own.
        redland.terminate()
        redland.wait(timeout=20)
        for suffix in ("", "-wal", "-shm"):
            (nodes[REDLAND] / f"node.db{suffix}").unlink(missing_ok=True)
        serve(REDLAND)
        clients[REDLAND] = api(REDLAND)
        _wait_for(agree, "the restarted node to re-sync from an empty database")
        assert clients[REDLAND].get("/api/state").json()["size"] == len(entries) + 2

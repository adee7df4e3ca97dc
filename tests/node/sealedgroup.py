"""A group of three member nodes with real age identities around a real hub PROCESS.

The hub runs as ``python -m detente hub serve`` with its stdout and stderr captured in a
file (so a test can read everything the hub logged); each node is a real
``detente.node.instance.Node`` (its own database, party key and age identity file).

Import as ``from node.sealedgroup import sealed_group`` (tests/ is on sys.path).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from detente.crypto.age import IDENTITY_FILE, Identity, save_identity
from detente.hub.auth import auth_message
from detente.hub.config import HubDir
from detente.hub.instance import found
from detente.node.config import NodeDir
from detente.node.instance import Node, open_node
from detente.statements.kinds import DeadlinePolicy, GroupGenesis, PartyKeys
from detente.tlog.note import Ed25519Signer
from group.scenario import Chain, party_key, public_key
from hub.harness import ORIGIN, issued_start

PARTIES = ("blueland", "redland", "greenland")


@dataclass
class SealedGroup:
    root: Path
    hub_dir: Path
    hub_url: str
    hub_log: Path
    nodes: dict[str, Node]

    def hub_size(self) -> int:
        return int(httpx.get(f"{self.hub_url}/v1/state", timeout=10).json()["size"])

    def hub_blobs(self) -> list[Path]:
        root = self.hub_dir / "blobs"
        return sorted(p for p in root.glob("??/*") if p.is_file())

    def token(self, party: str) -> str:
        """A member token for ``party`` (logged in with its current key)."""
        node = self.nodes[party]
        with httpx.Client(timeout=10) as http:
            origin = http.get(f"{self.hub_url}/log/checkpoint").text.split("\n", 1)[0]
            nonce = http.post(f"{self.hub_url}/v1/auth/challenge", json={"party": party}).json()[
                "nonce"
            ]
            signature = node.speaker.key.sign(auth_message(origin, party, nonce))
            answer = http.post(
                f"{self.hub_url}/v1/auth/token",
                json={
                    "party": party,
                    "nonce": nonce,
                    "signature": base64.b64encode(signature).decode(),
                },
            )
        return str(answer.json()["token"])

    def sync_all(self) -> None:
        for node in self.nodes.values():
            node.sync()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _genesis(identities: dict[str, Identity], log_vkey: str) -> GroupGenesis:
    return GroupGenesis(
        name="Sealed statements test group",
        parties=tuple(
            PartyKeys(
                id=p,
                name=p.capitalize(),
                signing_key=public_key(p),
                encryption_key=str(identities[p].recipient),
            )
            for p in PARTIES
        ),
        log_origin=ORIGIN,
        log_vkey=log_vkey,
        witnesses=(),
        witness_quorum=0,
        admission_quorum=2,
        deadlines=DeadlinePolicy(acknowledge_hours=24, answer_hours=72),
    )


@contextlib.contextmanager
def _hub_process(data: Path, port: int, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "detente", "hub", "serve", "--data", str(data),
             "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/v1/state", timeout=1.0)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the hub did not start: {log.read_text()}") from None
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextlib.contextmanager
def sealed_group(root: Path) -> Iterator[SealedGroup]:
    """Found the group, start the hub process and open the three nodes (synced once)."""
    hub_path = root / "hub"
    hub_dir = HubDir.create(hub_path, ORIGIN)
    identities = {p: Identity.generate() for p in PARTIES}
    chain = Chain()
    entry = chain.genesis(_genesis(identities, hub_dir.log.vkey), issued_start(), PARTIES)
    found(hub_dir, entry)
    port = _free_port()
    log = root / "hub.log"
    with _hub_process(hub_path, port, log) as url, contextlib.ExitStack() as stack:
        nodes = {}
        for party in PARTIES:
            path = root / party
            NodeDir.create(path, party, url, Ed25519Signer(party, party_key(party)).skey())
            save_identity(path / IDENTITY_FILE, identities[party], dt.datetime.now(dt.UTC))
            nodes[party] = stack.enter_context(open_node(path))
        group = SealedGroup(root, hub_path, url, log, nodes)
        group.sync_all()
        yield group

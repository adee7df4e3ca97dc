"""Catch-up rate of a fresh member node against bare Ed25519 verification, in one run.

Builds a hub whose log holds N statements (default 100,000: Blueland pings Redland, Redland
acks each ping), written directly with ``LogStore`` + ``Sequencer`` in batches into a hub data
directory (plus the hub's state snapshot), serves it with ``detente hub serve`` in its own
process, and times a fresh node's full sync (``detente.node.sync.Syncer``: checkpoint, tiles,
entry bundles, every signature and group rule re-applied, everything stored in the node's
SQLite database). In the same run it times bare ``Ed25519PublicKey.verify`` of each entry's
signature over its DSSE PAE bytes, just before and just after the sync (the baseline is the
higher of the two: the speed of a shared machine drifts, and a reading only ever comes out
low). Prints both rates and their ratio (goal: the node at least half as fast). No
assertion: a benchmark reports.

    .venv/bin/python bench/node_bench.py [N]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from detente.group import apply, genesis
from detente.hub.config import HubDir
from detente.hub.snapshot import SnapshotStore
from detente.node.config import NodeDir
from detente.node.store import NodeStore
from detente.node.sync import Syncer
from detente.statements.envelope import Envelope, pae
from detente.statements.kinds import ContactRole, Ping, PingAck
from detente.tlog.note import Ed25519Signer
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from group.scenario import Chain, build_genesis, party_key, public_key

ORIGIN = "detente.bench/hub"
BATCH = 4096


def _entries(count: int, log_vkey: str) -> list[bytes]:
    start = dt.datetime.fromtimestamp(int(time.time()) - 3 * 86_400, dt.UTC)
    chain = Chain()
    body = build_genesis(start, log_origin=ORIGIN, log_vkey=log_vkey)
    entries = [chain.genesis(body, start, ["blueland", "redland"])]
    for number in range(count // 2):
        at = start + dt.timedelta(seconds=number)
        ping = Ping(
            id=f"p-{number}", to=("redland",), role=ContactRole.TECHNICAL, reply_within_minutes=5
        )
        entries.append(chain.make("blueland", ping, at))
        entries.append(chain.make("redland", PingAck(ping=f"p-{number}"), at))
    return entries


def _write_hub(path: Path, count: int) -> tuple[HubDir, list[bytes]]:
    hub = HubDir.create(path, ORIGIN)
    entries = _entries(count, hub.log.vkey)
    with LogStore.open(hub.log.config.database) as store:
        sequencer = Sequencer(store, hub.log.signer, ORIGIN)
        for offset in range(0, len(entries), BATCH):
            sequencer.integrate(entries[offset : offset + BATCH])
        state = genesis(entries[0])
        at = dt.datetime.now(dt.UTC)
        for entry in entries[1:]:
            state = apply(state, entry, at=at)
        SnapshotStore(store.engine, hub.log.signer.skey().encode()).save(state)
    return hub, entries


def _bare_verify(entries: list[bytes]) -> float:
    keys = {
        party: Ed25519PublicKey.from_public_bytes(public_key(party))
        for party in ("blueland", "redland")
    }
    envelopes = [Envelope.from_bytes(e) for e in entries[1:]]
    signers = [keys["blueland"], keys["redland"]] * (len(envelopes) // 2)
    began = time.perf_counter()
    for envelope, key in zip(envelopes, signers, strict=True):
        key.verify(envelope.signatures[0].sig, pae(envelope.payload_type, envelope.payload))
    return len(envelopes) / (time.perf_counter() - began)


@contextlib.contextmanager
def _hub_process(path: Path) -> Iterator[str]:
    """``detente hub serve`` of ``path`` in its own process; its URL once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "detente", "hub", "serve", "--data", str(path)]
    process = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/log/checkpoint", timeout=5.0).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the hub did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory(prefix="detente-node-bench-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        hub_dir, entries = _write_hub(root / "hub", count)
        print(f"built a hub log of {len(entries)} entries in {time.perf_counter() - began:.1f} s")
        before = _bare_verify(entries)
        with _hub_process(hub_dir.path) as url:
            key = Ed25519Signer("redland", party_key("redland")).skey()
            node = NodeDir.create(root / "node", "redland", url, key)
            secret = node.private_key().private_bytes_raw()
            with (
                NodeStore.open(node.database, secret) as store,
                httpx.Client(timeout=60.0) as http,
                Syncer(node, store, http) as syncer,
            ):
                began = time.perf_counter()  # a fresh node: its signature workers start now
                report = syncer.sync()
                elapsed = time.perf_counter() - began
        if report.misbehaviour is not None or report.digest != report.hub_digest:
            print(f"SYNC FAILED: {report}")
            raise SystemExit(1)
        after = _bare_verify(entries)
        # The machine's speed drifts: measured on both sides, and the higher is the baseline (a
        # reading only ever comes out low).
        bare = max(before, after)
        rate = report.fetched / elapsed
        print(f"node synced {report.fetched} entries in {elapsed:.2f} s; digest equals the hub's")
        sides = f"({before:.0f} before, {after:.0f} after)"
        print(f"bare Ed25519 verify: {bare:10.0f} entries/s {sides}")
        print(f"node catch-up:       {rate:10.0f} entries/s (verified, applied, stored)")
        print(f"ratio node/bare:     {rate / bare:10.2f}   (goal >= 0.50)")


if __name__ == "__main__":
    main()

"""Benchmark of the hub: statements accepted per second through HTTP, and receipt latency.

Prints, in one run:

- baseline: the Ed25519 verification rate of this machine (cryptography), one core, in a
  fresh interpreter (``baseline.py``);
- statements accepted per second through real HTTP on loopback (uvicorn), submitted one per
  request (``--clients`` concurrent clients) and in batches (``POST /v1/statements/batch``),
  for SQLite and for PostgreSQL; every statement's signature, chain and rules are checked,
  and a witness on loopback cosigns every checkpoint (quorum 1), as in production. The batch
  clock stops when a cosigned checkpoint covers the last entry (its receipt is served), not
  at the last 201;
- receipt latency (``?wait=receipt``: durable, in a cosigned checkpoint, proof returned),
  p50 and p99, one request at a time;
- for the batches, the CPU time per statement of this process (hub, witness and client
  threads) + that of its children (the hub's signature workers), beside the time of one
  verification: where the cost is.

Each rate is also given as a ratio of the verification rate measured in this same run, just
before and just after that rate (the higher of the two), once the hub has gone quiet: the
speed of a shared virtual machine drifts by tens of percent within seconds, so a baseline
taken once at the start of the run can be far from the speed the hub had, and one taken
while the hub still publishes a checkpoint, or inside the hub's own process, reads low. A
reading can only come out low, so the higher one is the stricter baseline. The hub starts its
signature workers as ``detente hub serve`` does (``create_hub_app(..., warm=True)``). Goal
(issue 3): batch ingest at least half the verification rate.

    python bench/hub_bench.py [--statements N] [--batch B] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rich.console import Console
from rich.table import Table

from baseline import fresh_verify_rate
from detente.hub.app import create_hub_app
from detente.hub.config import HubDir
from detente.hub.instance import found, open_hub
from detente.hub.service import SNAPSHOT_IDLE
from detente.serving import BackgroundServer
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import (
    DeadlinePolicy,
    GroupGenesis,
    Indicator,
    PartyKeys,
    SightingReport,
    Tlp,
    WitnessKey,
)
from detente.statements.payload import Statement, entry_hash, make_entry
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir

console = Console()
PG_DEFAULT = os.environ.get("DETENTE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ORIGIN = "bench.detente/hub"
GROUP = "bench-group"
PARTIES = 8  # an envelope carries at most 8 signatures, and every founder signs genesis
#: Seconds of verification measured before and after each mode: the baseline of its ratio.
BASELINE_SECONDS = 1.0
#: Seconds to wait for a cosigned checkpoint to cover the last entry of the batches.
RECEIPT_WAIT = 60.0


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class Authors:
    """PARTIES parties, each with its own chain; statements round-robin between them."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        self.ids = [f"party-{i:02d}" for i in range(PARTIES)]
        self.keys = {p: _key(p) for p in self.ids}
        self.heads: dict[str, tuple[int, bytes | None]] = {p: (0, None) for p in self.ids}
        self.count = 0

    def genesis(self, log_vkey: str, witness: WitnessKey) -> bytes:
        body = GroupGenesis(
            name="Benchmark group",
            parties=tuple(
                PartyKeys(
                    id=p,
                    name=p,
                    signing_key=_raw(self.keys[p]),
                    encryption_key="age1" + "q" * 58,
                )
                for p in self.ids
            ),
            log_origin=ORIGIN,
            log_vkey=log_vkey,
            witnesses=(witness,),
            witness_quorum=1,
            admission_quorum=2,
            deadlines=DeadlinePolicy(acknowledge_hours=24, answer_hours=72),
        )
        statement = Statement(
            "group.genesis", GROUP, self.ids[0], 0, None, self.start, Tlp.GREEN, None, body
        )
        return make_entry(statement, [self.keys[p] for p in self.ids[:8]]).entry

    def next(self) -> bytes:
        author = self.ids[self.count % PARTIES]
        self.count += 1
        seq, prev = self.heads[author]
        body = SightingReport(
            indicators=(Indicator(type="ipv4-addr", value=f"198.51.100.{self.count % 256}"),),
            observed=True,
            count=self.count,
        )
        statement = Statement(
            "sighting.report", GROUP, author, seq + 1, prev, self.start, Tlp.GREEN, None, body
        )
        entry = make_entry(statement, [self.keys[author]]).entry
        self.heads[author] = (seq + 1, entry_hash(entry))
        return entry


def quiet(limit: float = 120.0) -> None:
    """Wait until the hub (in this process and its workers) has used no CPU for longer than
    it waits before it stores a due snapshot when idle (``SNAPSHOT_IDLE``): a baseline
    measured while the hub still publishes a checkpoint or stores that snapshot reads low and
    would flatter the ratio. (This process's own reading of /proc is not counted.)"""
    window = SNAPSHOT_IDLE + 0.5
    now = time.monotonic()
    deadline, calm_since = now + limit, now
    workers = children_cpu()
    while time.monotonic() < deadline:
        own = time.process_time()
        time.sleep(0.1)
        busy = time.process_time() - own
        now_workers = children_cpu()
        busy, workers = busy + now_workers - workers, now_workers
        if busy > 0.005:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= window:
            return
    raise RuntimeError(f"the hub was still busy after {limit:.0f} s")


@contextlib.contextmanager
def pg_url(base: str) -> Iterator[str]:
    url = sa.make_url(base)
    admin = sa.create_engine(url)
    schema = f"detente_hub_bench_{secrets.token_hex(6)}"  # never another run's
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _listening_socket() -> socket.socket:
    """A loopback socket for a ``BackgroundServer``, made as uvicorn makes its own (``detente
    hub serve``): with the TCP protocol number, so asyncio turns on TCP_NODELAY for every
    connection. One made with protocol 0 does not get it, and then every response of more
    than one segment waits out the client's delayed ACK (~40 ms), which is not the hub's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running_hub(work: Path, database: str | None) -> Iterator[tuple[str, Authors]]:
    hub_dir = HubDir.create(work / "hub", ORIGIN, database)
    witness_dir = work / "witness"
    witness_vkey = witness_config.init(witness_dir, "bench.detente/witness")
    witness_config.add_log(witness_dir, hub_dir.log.vkey)
    authors = Authors(dt.datetime.fromtimestamp(int(time.time()) - 600, dt.UTC))
    app = witness_app_from_dir(witness_dir, lambda: int(time.time()))
    with BackgroundServer(app, sock=_listening_socket()) as witness:
        found(
            hub_dir,
            authors.genesis(hub_dir.log.vkey, WitnessKey(vkey=witness_vkey, url=witness.url)),
        )
        with (
            open_hub(HubDir.open(work / "hub")) as hub,
            BackgroundServer(create_hub_app(hub, warm=True), sock=_listening_socket()) as server,
        ):
            yield server.url, authors


def _post(http: httpx.Client, entry: bytes, wait: bool = False) -> httpx.Response:
    params = {"wait": "receipt"} if wait else {}
    response = http.post(
        "/v1/statements", content=entry, headers={"Content-Type": PAYLOAD_TYPE}, params=params
    )
    if response.status_code != 201:
        raise RuntimeError(f"hub refused a statement: {response.text}")
    return response


def single_rate(url: str, entries: list[bytes], clients: int) -> float:
    """Statements per second, one per request, ``clients`` at a time (each keeps its order:
    statements are split per author, so a client's statements never depend on another's)."""
    lanes: list[list[bytes]] = [[] for _ in range(clients)]
    for i, entry in enumerate(entries):
        lanes[(i % PARTIES) % clients].append(entry)

    def run(lane: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60.0) as http:
            for entry in lane:
                _post(http, entry)

    begin = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, lanes))
    return len(entries) / (time.perf_counter() - begin)


def children_cpu() -> float:
    """CPU seconds used so far by this process's children (the hub's signature workers),
    from /proc; 0 where there is no /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():  # ppid; utime and stime follow at 11 and 12
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def batch_rate(url: str, entries: list[bytes], batch: int) -> tuple[float, float, float]:
    """Statements per second in batches, and the CPU microseconds per statement of this
    process (hub, witness and client threads) and of its children (signature workers)."""
    bodies = [
        b"[" + b",".join(entries[i : i + batch]) + b"]" for i in range(0, len(entries), batch)
    ]
    with httpx.Client(base_url=url, timeout=120.0) as http:
        begin, cpu, workers = time.perf_counter(), time.process_time(), children_cpu()
        last = -1
        for body in bodies:
            response = http.post(
                "/v1/statements/batch", content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code != 201:
                raise RuntimeError(f"hub refused a batch: {response.text[:500]}")
            last = response.json()["indices"][-1]
        # The clock stops when a cosigned checkpoint covers the last entry, not at the last
        # 201: publication that trails the last batch is part of the ingest.
        deadline = time.monotonic() + RECEIPT_WAIT
        while (status := http.get(f"/v1/receipts/{last}").status_code) != 200:
            if status != 404 or time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for entry {last} (last answer: {status})")
            time.sleep(0.005)
        rate = len(entries) / (time.perf_counter() - begin)
        per = 1e6 / len(entries)
        return (
            rate,
            (time.process_time() - cpu) * per,
            (children_cpu() - workers) * per,
        )


def receipt_latency(url: str, entries: list[bytes]) -> tuple[float, float]:
    samples = []
    with httpx.Client(base_url=url, timeout=60.0) as http:
        for entry in entries:
            begin = time.perf_counter()
            body = _post(http, entry, wait=True).json()
            samples.append(time.perf_counter() - begin)
            if "receipt" not in body:
                raise RuntimeError("no receipt came back")
    quantiles = statistics.quantiles(samples, n=100)
    return quantiles[49] * 1000, quantiles[98] * 1000


def run_backend(name: str, database: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """One backend's figures; each rate comes with the verification rate measured just
    before and just after it (the higher is its baseline: this machine's speed drifts)."""
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp), database) as (url, authors):
        with console.status(f"{name}: signing {args.statements * 2 + args.receipts} statements"):
            single = [authors.next() for _ in range(args.statements)]
            batched = [authors.next() for _ in range(args.statements)]
            receipts = [authors.next() for _ in range(args.receipts)]
        with console.status(f"{name}: single submissions"):
            quiet()
            before = fresh_verify_rate(BASELINE_SECONDS)
            single_per_s = single_rate(url, single, args.clients)
            quiet()
            between = fresh_verify_rate(BASELINE_SECONDS)
        with console.status(f"{name}: batches of {args.batch}"):
            batch_per_s, own_cpu, worker_cpu = batch_rate(url, batched, args.batch)
            quiet()
            after = fresh_verify_rate(BASELINE_SECONDS)
        with console.status(f"{name}: receipt latency"):
            p50, p99 = receipt_latency(url, receipts)
    # A reading of the verification rate can only come out low (the machine busy elsewhere,
    # the PostgreSQL server vacuuming), never high: of the two around a rate, the higher is
    # its baseline, so a dip cannot flatter the ratio.
    return {
        "single": single_per_s,
        "single_verify": max(before, between),
        "batch": batch_per_s,
        "batch_verify": max(between, after),
        "verify_readings": [before, between, after],
        "batch_cpu_us": own_cpu,
        "batch_worker_cpu_us": worker_cpu,
        "p50": p50,
        "p99": p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--receipts", type=int, default=200)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    results = {"SQLite": run_backend("SQLite", None, args)}
    if not args.no_pg:
        try:
            with pg_url(args.pg) as url:
                results["PostgreSQL"] = run_backend("PostgreSQL", url, args)
        except sa.exc.OperationalError as exc:
            console.print(f"[yellow]PostgreSQL skipped:[/] {exc}")

    table = Table(title=f"Hub ingest through HTTP ({args.statements} statements per mode)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("verify", justify="right")
    table.add_column("vs verify", justify="right")
    for name, r in results.items():
        table.add_row(
            f"{name}: single (x{args.clients} clients)",
            f"{r['single']:,.0f} /s",
            f"{r['single_verify']:,.0f} /s",
            f"{r['single'] / r['single_verify']:.2f}x",
        )
        table.add_row(
            f"{name}: batch of {args.batch}",
            f"{r['batch']:,.0f} /s",
            f"{r['batch_verify']:,.0f} /s",
            f"{r['batch'] / r['batch_verify']:.2f}x",
        )
        table.add_row(
            f"{name}: batch CPU per statement",
            f"{r['batch_cpu_us']:.0f} + {r['batch_worker_cpu_us']:.0f} us",
            f"{1e6 / r['batch_verify']:.0f} us",
            "",
        )
        table.add_row(f"{name}: receipt latency p50", f"{r['p50']:.1f} ms", "", "")
        table.add_row(f"{name}: receipt latency p99", f"{r['p99']:.1f} ms", "", "")
    console.print(table)
    goal = all(r["batch"] >= 0.5 * r["batch_verify"] for r in results.values())
    verdict = "[green]met[/]" if goal else "[red]not met[/]"
    console.print(f"goal batch ingest >= 0.5x verify rate: {verdict}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

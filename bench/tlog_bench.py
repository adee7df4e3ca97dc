"""Benchmark of the durable log: append and inclusion proofs, against same-run baselines.

Prints, in one run, for N entries of 256 bytes (default 1,000,000):

- baseline: the raw SHA-256 rate of RFC 9162 leaf-plus-node hashing (the floor of any log);
- baseline: pymerkle 7's in-memory append rate and inclusion-proof rate;
- durable append into SQLite and into PostgreSQL (entries, tiles and a signed checkpoint per
  batch, committed), through ``detente.tlog.sequencer.Sequencer.integrate``;
- inclusion proofs built from the stored tiles at size N (``LogStore.inclusion_proof``), and
  the same proofs verified.

Every figure is also given as a ratio against a baseline measured in this same run, so a
noisy machine still gives comparable numbers. Goals (issue 2): SQLite durable append at least
100,000 entries/s and at least 2x pymerkle's append; proofs at least 5x pymerkle's.

    python bench/tlog_bench.py [--entries N] [--batch B] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from detente.tlog.hashing import leaf_hash
from detente.tlog.note import Ed25519Signer
from detente.tlog.proof import verify_inclusion
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore

console = Console()
ENTRY_SIZE = 256
PG_DEFAULT = os.environ.get("DETENTE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: A schema of its own per run, so two runs against one server never drop each other's.
PG_SCHEMA = f"detente_bench_{secrets.token_hex(6)}"


def entries(n: int, seed: int = 1) -> Iterator[bytes]:
    """n distinct pseudo-random 256-byte entries (a counter in front of fixed random bytes)."""
    filler = random.Random(seed).randbytes(ENTRY_SIZE - 8)
    for i in range(n):
        yield i.to_bytes(8, "big") + filler


def progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def timed(fn: Callable[[], int]) -> float:
    """Run fn (which returns how many operations it did); return operations per second."""
    start = time.perf_counter()
    count = fn()
    return count / (time.perf_counter() - start)


def raw_hashing(n: int) -> float:
    """Leaf hash per entry plus one node hash per entry (a tree of n leaves has n-1 nodes)."""
    sha = hashlib.sha256
    data = list(entries(n))

    def run() -> int:
        prev = b"\x00" * 32
        for e in data:
            h = sha(b"\x00" + e).digest()
            prev = sha(b"\x01" + prev + h).digest()
        return n

    return timed(run)


def pymerkle_rates(n: int, proofs: int) -> tuple[float, float]:
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    data = list(entries(n))

    def append() -> int:
        with progress() as p:
            task = p.add_task("pymerkle append", total=n)
            for k, e in enumerate(data):
                tree.append_entry(e)
                if k % 65536 == 0:
                    p.update(task, completed=k)
        return n

    append_rate = timed(append)
    rng = random.Random(2)
    picks = [rng.randrange(1, n + 1) for _ in range(proofs)]  # pymerkle counts from 1

    def prove() -> int:
        for i in picks:
            tree.prove_inclusion(i, n)
        return proofs

    return append_rate, timed(prove)


def durable_append(store: LogStore, n: int, batch: int, label: str) -> float:
    signer = Ed25519Signer.generate("bench.detente.localhost/log")
    sequencer = Sequencer(store, signer, signer.name, clock=time.time, max_batch=batch)
    data = list(entries(n))

    def run() -> int:
        with progress() as p:
            task = p.add_task(f"{label} durable append", total=n)
            for start in range(0, n, batch):
                sequencer.integrate(data[start : start + batch])
                p.update(task, completed=min(n, start + batch))
        return n

    rate = timed(run)
    latest = store.latest_checkpoint()
    if latest is None or latest.size != n:
        raise SystemExit(f"{label}: log has {latest} after appending {n}")
    return rate


def proof_rates(url: str, n: int, proofs: int) -> tuple[float, float, float]:
    """Proofs built from the stored tiles: (cold, warm, verified) per second.

    Cold: a freshly opened store, so every tile is read from the database and expanded
    (its inner nodes hashed) on first use. Warm: other random leaves, with the store's tile
    cache already filled by the cold pass, as in a log that keeps serving proofs.
    """
    rng = random.Random(3)
    cold_picks = [rng.randrange(n) for _ in range(proofs)]
    warm_picks = [rng.randrange(n) for _ in range(proofs)]
    built: list[tuple[int, tuple[bytes, ...]]] = []
    with LogStore.open(url) as store:
        root = store.tree_root(n)

        def build(picks: list[int]) -> Callable[[], int]:
            def run() -> int:
                for i in picks:
                    built.append((i, store.inclusion_proof(i, n)))
                return len(picks)

            return run

        cold = timed(build(cold_picks))
        warm = timed(build(warm_picks))
    filler = next(entries(1))[8:]

    def verify() -> int:
        for i, proof in built:
            verify_inclusion(i, n, leaf_hash(i.to_bytes(8, "big") + filler), proof, root)
        return len(built)

    return cold, warm, timed(verify)


def against(rate: float, pymerkle: float, hashing: float) -> str:
    return f"{rate / pymerkle:.1f}x pymerkle append, {rate / hashing:.2f}x raw hashing"


def pg_store(url: str) -> LogStore:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {PG_SCHEMA}")
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return LogStore.open(f"{url}{sep}options=-csearch_path%3D{PG_SCHEMA}")


def drop_pg_schema(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--pymerkle-proofs", type=int, default=2_000)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL SQLAlchemy URL")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    n = args.entries

    console.print(
        f"[bold]tlog benchmark[/]: {n:,} entries of {ENTRY_SIZE} bytes, batches of {args.batch:,}"
    )
    hashing = raw_hashing(n)
    console.print(f"raw SHA-256 leaf+node hashing: {hashing:,.0f} entries/s")
    pm_append, pm_proof = pymerkle_rates(n, args.pymerkle_proofs)
    console.print(f"pymerkle 7 in-memory: {pm_append:,.0f} appends/s, {pm_proof:,.0f} proofs/s")

    rows: list[tuple[str, float, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with LogStore.open(url) as store:
            sqlite_rate = durable_append(store, n, args.batch, "SQLite")
        cold, warm, verify = proof_rates(url, n, args.proofs)
        size_mib = (Path(tmp) / "bench.db").stat().st_size / 2**20
    rows.append(
        (
            "SQLite durable append",
            sqlite_rate,
            "entries/s",
            against(sqlite_rate, pm_append, hashing),
        )
    )
    for label, rate in (("cold: tiles read and expanded", cold), ("warm: tile cache", warm)):
        rows.append(
            (
                f"inclusion proofs from tiles at {n:,}, {label}",
                rate,
                "proofs/s",
                f"{rate / pm_proof:.1f}x pymerkle proofs",
            )
        )
    rows.append(
        (
            "inclusion proofs verified",
            verify,
            "proofs/s",
            f"{verify / pm_proof:.1f}x pymerkle proofs",
        )
    )
    if not args.no_pg:
        try:
            with pg_store(args.pg) as store:
                pg_rate = durable_append(store, n, args.batch, "PostgreSQL")
            rows.append(
                (
                    "PostgreSQL durable append",
                    pg_rate,
                    "entries/s",
                    against(pg_rate, pm_append, hashing),
                )
            )
        finally:
            drop_pg_schema(args.pg)

    table = Table(
        title=f"tlog, {n:,} entries of {ENTRY_SIZE} bytes (SQLite file {size_mib:,.0f} MiB)"
    )
    table.add_column("measure")
    table.add_column("rate", justify="right")
    table.add_column("unit")
    table.add_column("against same-run baseline")
    table.add_row("baseline: raw SHA-256 leaf+node", f"{hashing:,.0f}", "entries/s", "1.00x")
    table.add_row(
        "baseline: pymerkle 7 in-memory append",
        f"{pm_append:,.0f}",
        "entries/s",
        f"{pm_append / hashing:.2f}x raw hashing",
    )
    table.add_row("baseline: pymerkle 7 inclusion proof", f"{pm_proof:,.0f}", "proofs/s", "")
    for name, rate, unit, ratio in rows:
        table.add_row(name, f"{rate:,.0f}", unit, ratio)
    console.print(table)
    goals = [
        ("SQLite append >= 100,000 entries/s", sqlite_rate >= 100_000),
        ("SQLite append >= 2x pymerkle append", sqlite_rate >= 2 * pm_append),
        ("proofs (cold) >= 5x pymerkle proofs", cold >= 5 * pm_proof),
        ("proofs (warm) >= 5x pymerkle proofs", warm >= 5 * pm_proof),
    ]
    for goal, met in goals:
        console.print(f"goal {goal}: {'[green]met[/]' if met else '[red]MISSED[/]'}")


if __name__ == "__main__":
    main()

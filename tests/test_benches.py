"""Every benchmark in ``bench/`` runs to the end on a small input and prints its figures.

These are not performance tests (no figure is judged, and a small input says nothing of the
goals): they keep ``make bench`` working, because a benchmark nothing runs breaks silently.
Each runs in its own interpreter from the repository root, as ``make bench`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tlog.logtrees import PG_URL, postgres_url

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / args[0]), *args[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def require_postgres() -> None:
    """Skip (or, with DETENTE_REQUIRE_PG=1, fail) when the test server is unreachable."""
    with postgres_url():
        pass


HUB_BENCH = ("hub_bench.py", "--statements", "300", "--batch", "150", "--receipts", "20")
TLOG_BENCH = (
    "tlog_bench.py",
    *("--entries", "3000", "--batch", "512", "--proofs", "200", "--pymerkle-proofs", "50"),
)


def check_hub_figures(out: str, backends: set[str]) -> None:
    results = json.loads(out.strip().splitlines()[-1])
    assert set(results) == backends
    for figures in results.values():
        for name in ("single", "single_verify", "batch", "batch_verify", "p50", "p99"):
            assert figures[name] > 0, name
        assert len(figures["verify_readings"]) == 3
        if (os.cpu_count() or 1) > 1:  # batches of 150 go to the signature workers
            assert figures["batch_worker_cpu_us"] > 0
    assert "goal batch ingest >= 0.5x verify rate:" in out


def test_hub_bench_reports_every_figure() -> None:
    check_hub_figures(run_bench(*HUB_BENCH, "--no-pg"), {"SQLite"})


@pytest.mark.postgres
def test_hub_bench_reports_every_figure_for_postgres_too() -> None:
    require_postgres()
    check_hub_figures(run_bench(*HUB_BENCH, "--pg", PG_URL), {"SQLite", "PostgreSQL"})


def test_tlog_bench_runs() -> None:
    out = run_bench(*TLOG_BENCH, "--no-pg")
    assert "SQLite durable append" in out
    assert "PostgreSQL durable append" not in out


@pytest.mark.postgres
def test_tlog_bench_runs_on_postgres_too() -> None:
    require_postgres()
    out = run_bench(*TLOG_BENCH, "--pg", PG_URL)
    assert "SQLite durable append" in out
    assert "PostgreSQL durable append" in out


def test_hub_growth_prints_a_median_ratio() -> None:
    out = run_bench("hub_growth.py", "1500")
    assert "log       0-  1,500:" in out
    assert "median " in out


def test_node_bench_syncs_to_the_hubs_digest() -> None:
    out = run_bench("node_bench.py", "600")
    assert "digest equals the hub's" in out
    assert "ratio node/bare:" in out


@pytest.mark.parametrize(
    ("bench", "args", "expected"),
    [
        ("blob_bench.py", ("--mib", "8"), "peak RSS"),
        ("group_replay.py", ("500",), "ratio replay/bare:"),
        ("statements_bench.py", ("--entries", "500"), "open_entry + verify / bare verify:"),
    ],
)
def test_small_benches_run(bench: str, args: tuple[str, ...], expected: str) -> None:
    assert expected in run_bench(bench, *args)


def test_every_bench_is_covered_here() -> None:
    """A new bench in ``bench/`` gets a smoke test in this file."""
    source = Path(__file__).read_text()
    benches = {p.name for p in (ROOT / "bench").glob("*.py")} - {"baseline.py"}
    assert benches, "no benches found"
    assert {b for b in benches if f'"{b}"' not in source} == set()

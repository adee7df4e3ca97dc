"""Hub batch ingest as the log grows: the time of each batch, against Ed25519 verification.

Starts one hub (SQLite, a witness on loopback, as ``hub_bench.py`` does), sends N statements
(default 30,000) in batches of 500 through ``POST /v1/statements/batch``, one batch after the
other, and prints the mean time per batch and its rate as a ratio of the Ed25519 verification
rate measured just before and just after each group of six batches (the higher), then the
median ratio. That rate is measured in a fresh interpreter (``baseline.py``). The hub waits
during those measurements (about 0.6 s each), which lets its checkpoint publication catch up:
a small advantage over sustained ingest. Shows how ingest changes as the
group state grows, and the pauses while a state snapshot is stored (every 10,000 entries).

    .venv/bin/python bench/hub_growth.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from baseline import fresh_verify_rate
from hub_bench import running_hub

BATCH = 500
GROUP = 6
#: Seconds of verification measured between groups of batches (with the interpreter's start,
#: below the hub's idle snapshot delay of one second, so no snapshot is stored in the pause).
BASELINE = 0.5


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp), None) as (url, authors):
        entries = [authors.next() for _ in range(count)]
        bodies = [b"[" + b",".join(entries[i : i + BATCH]) + b"]" for i in range(0, count, BATCH)]
        times: list[float] = []
        # The verification rate measured before each group of batches and after the last:
        # each group's baseline is the higher of the two around it (the machine's speed drifts,
        # and a reading taken while the hub still publishes or stores a snapshot reads low).
        verify = [fresh_verify_rate(BASELINE)]
        with httpx.Client(base_url=url, timeout=120) as http:
            for number, body in enumerate(bodies):
                if number and not number % GROUP:
                    verify.append(fresh_verify_rate(BASELINE))
                begin = time.perf_counter()
                answer = http.post(
                    "/v1/statements/batch",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                times.append(time.perf_counter() - begin)
                if answer.status_code != 201:
                    raise RuntimeError(f"hub refused a batch: {answer.text[:500]}")
        verify.append(fresh_verify_rate(BASELINE))
    ratios = []
    for group, first in enumerate(range(0, len(times), GROUP)):
        part = times[first : first + GROUP]
        rate = BATCH * len(part) / sum(part)
        baseline = max(verify[group], verify[group + 1])  # a reading only ever comes out low
        ratios.append(rate / baseline)
        print(
            f"log {first * BATCH:>7,}-{(first + len(part)) * BATCH:>7,}: "
            f"{sum(part) / len(part) * 1000:6.1f} ms/batch, {rate:6,.0f} /s, "
            f"verify {baseline:6,.0f} /s, {rate / baseline:.2f}x verify"
        )
    print(f"median {statistics.median(ratios):.2f}x verify over {len(ratios)} groups")


if __name__ == "__main__":
    main()

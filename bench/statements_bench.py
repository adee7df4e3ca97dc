"""Benchmark of reading log entries: ``open_entry`` + ``verify_signature`` per entry.

Prints, in one run, the time per entry of:

- baseline: a bare Ed25519 verify (cryptography, key already loaded) of the same entry's PAE;
- ``open_entry`` alone (strict envelope + payload parsing, canonical checks, pydantic body);
- ``open_entry`` + ``verify_signature`` (what the hub and a replaying node do per entry);

and each as a ratio against the baseline. Entries are a realistic mix of kinds (every kind
from tests/statements/examples.py), signed by one key (genesis by three).

    python bench/statements_bench.py [--entries N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "statements"))

from examples import FOUNDERS, party_key, public_key, statement

from detente.statements import (
    KINDS,
    PAYLOAD_TYPE,
    key_id,
    make_entry,
    open_entry,
    pae,
    verify_signature,
)


def _time(label: str, fn: Callable[[], None], n: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    per = best / n * 1e6
    print(f"{label:<34} {per:8.1f} us/entry")
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    signed = []
    for i in range(args.entries):
        kind = KINDS[i % len(KINDS)]
        if kind == "group.genesis":
            signed.append(make_entry(statement(kind), [party_key(f) for f in FOUNDERS]))
        else:
            st = statement(kind, seq=2 + i, prev=bytes(32))
            signed.append(make_entry(st, [party_key("ministry-a")]))
    entries = [s.entry for s in signed]
    key = public_key("ministry-a")
    keyid = key_id(key)
    verifier = party_key("ministry-a").public_key()
    sigs = [
        (
            next(x.sig for x in s.envelope.signatures if x.keyid == keyid),
            pae(PAYLOAD_TYPE, s.envelope.payload),
        )
        for s in signed
    ]
    mean = sum(map(len, entries)) / len(entries)
    print(f"{len(entries)} entries, mean {mean:.0f} bytes\n")

    def bare() -> None:
        for sig, message in sigs:
            verifier.verify(sig, message)

    def parse_only() -> None:
        for entry in entries:
            open_entry(entry)

    def parse_verify() -> None:
        for entry in entries:
            verify_signature(open_entry(entry).envelope, key)  # genesis: ministry-a signed too

    base = _time("baseline: bare Ed25519 verify", bare, len(entries))
    parse = _time("open_entry", parse_only, len(entries))
    both = _time("open_entry + verify_signature", parse_verify, len(entries))
    print(f"\nopen_entry / bare verify:            {parse / base:5.2f}x")
    print(f"open_entry + verify / bare verify:   {both / base:5.2f}x")
    print(f"entries/s (open_entry + verify):     {1e6 / both:,.0f}")


if __name__ == "__main__":
    main()

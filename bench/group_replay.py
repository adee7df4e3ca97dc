"""Replay speed of the group rules against bare Ed25519 verification, measured in one run.

Builds N entries (Blueland pings Redland, Redland acks each ping), then times:
- bare: ``Ed25519PublicKey.verify`` of each entry's one signature over its DSSE PAE bytes;
- replay: ``detente.group.apply`` over all entries (parse, verify, rules, new state).
Prints entries per second for both and their ratio. No assertion: a benchmark reports.

    .venv/bin/python bench/group_replay.py [N]
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from detente.group import apply, genesis
from detente.statements.envelope import Envelope, pae
from detente.statements.kinds import ContactRole, Ping, PingAck
from group.scenario import Chain, build_genesis, public_key

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _build(count: int) -> tuple[bytes, list[bytes]]:
    chain = Chain()
    first = chain.genesis(build_genesis(START), START, ["blueland", "redland"])
    entries = []
    for number in range(count // 2):
        at = START + dt.timedelta(seconds=number)
        ping = Ping(
            id=f"p-{number}", to=("redland",), role=ContactRole.TECHNICAL, reply_within_minutes=5
        )
        entries.append(chain.make("blueland", ping, at))
        entries.append(chain.make("redland", PingAck(ping=f"p-{number}"), at))
    return first, entries


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    first, entries = _build(count)
    keys = {
        party: Ed25519PublicKey.from_public_bytes(public_key(party))
        for party in ("blueland", "redland")
    }
    envelopes = [Envelope.from_bytes(e) for e in entries]
    signers = [keys["blueland"], keys["redland"]] * (len(entries) // 2)

    began = time.perf_counter()
    for envelope, key in zip(envelopes, signers, strict=True):
        key.verify(envelope.signatures[0].sig, pae(envelope.payload_type, envelope.payload))
    bare = time.perf_counter() - began

    began = time.perf_counter()
    state = genesis(first)
    end = START + dt.timedelta(days=1)
    for entry in entries:
        state = apply(state, entry, at=end)
    replay = time.perf_counter() - began

    n = len(entries)
    print(f"entries: {n} (state size {state.size})")
    print(f"bare Ed25519 verify: {n / bare:10.0f} entries/s")
    print(f"group replay:        {n / replay:10.0f} entries/s")
    print(f"ratio replay/bare:   {bare / replay:10.2f}")


if __name__ == "__main__":
    main()

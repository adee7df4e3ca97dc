"""Child process for test_crash.py: append to a SQLite log in batches until killed.

Usage: python crash_child.py SQLITE_URL SEED (the log key comes in DETENTE_CRASH_SKEY).
Prints ``READY <size>`` once the log is open, then after each committed batch one
``E <index> <hex entry>`` line per entry and one ``C <base64 checkpoint note>`` line, then
flushes. Nothing is printed for a batch before its transaction has committed.
"""

from __future__ import annotations

import base64
import os
import random
import sys

from detente.tlog.note import Ed25519Signer
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore


def main() -> None:
    url, seed = sys.argv[1], int(sys.argv[2])
    signer = Ed25519Signer.from_skey(os.environ["DETENTE_CRASH_SKEY"])
    rng = random.Random(seed)
    store = LogStore.open(url)
    seq = Sequencer(store, signer, signer.name)
    state = store.state()
    out = sys.stdout
    out.write(f"READY {0 if state is None else state.size}\n")
    out.flush()
    while True:
        batch = [rng.randbytes(rng.randrange(1, 48)) for _ in range(rng.choice([1, 3, 50, 300]))]
        indices = seq.integrate(batch)
        checkpoint = store.checkpoint(indices[-1] + 1)
        lines = [f"E {i} {e.hex()}\n" for i, e in zip(indices, batch, strict=True)]
        lines.append(f"C {base64.b64encode(checkpoint.cosigned or b'').decode()}\n")
        out.write("".join(lines))
        out.flush()


if __name__ == "__main__":
    main()

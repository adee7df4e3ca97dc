"""Crash safety: SIGKILL a writing child at random moments; nothing it reported is lost.

The child (crash_child.py) reports an entry and a checkpoint only after the batch's
transaction committed. After every kill the parent checks that each reported entry is at
its index with the same bytes, that no stored or reported checkpoint changed, and that all
of them are consistent with the latest (consistency proofs built from storage verify).
Consistency is checked for each new checkpoint and for the previous latest; by
transitivity that covers every checkpoint, and the last round checks all of them directly.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from detente.tlog import proof
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.note import Ed25519Signer, Verifier
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore

CHILD = Path(__file__).with_name("crash_child.py")
ORIGIN = "example.com/crash-test"
KILLS = 22


class _Run:
    """One child process with its stdout collected by a thread."""

    def __init__(self, url: str, skey: str, seed: int) -> None:
        env = {**os.environ, "DETENTE_CRASH_SKEY": skey}
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), url, str(seed)],
            stdout=subprocess.PIPE,
            env=env,
        )
        self.data = b""
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.proc.stdout
        if stdout is None:
            return
        while chunk := stdout.read1(65536):
            self.data += chunk
            if b"READY" in self.data:
                self.ready.set()

    def kill(self) -> list[str]:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        # Only complete lines count: a line cut by the kill was never fully handed out.
        text = self.data.decode()
        return text.split("\n")[:-1]


def _check(
    store: LogStore,
    log: Verifier,
    entries: dict[int, bytes],
    notes: dict[int, bytes],
    reported: list[bytes],
    *,
    full: bool,
) -> None:
    latest = store.latest_checkpoint()
    assert latest is not None
    state = store.state()
    assert state is not None
    assert (state.size, store.tree_root(state.size)) == (latest.size, latest.root)
    if entries:
        stored = store.read_entries(0, max(entries) + 1)
        for index, entry in entries.items():
            assert stored[index] == entry, f"entry {index} changed"
    previous = max(notes) if notes else None
    roots: dict[int, bytes] = {}
    for cp in store.checkpoints(limit=1_000_000):
        assert notes.setdefault(cp.size, cp.note) == cp.note, f"checkpoint {cp.size} changed"
        assert cp.cosigned == cp.note
        roots[cp.size] = cp.root
    for note in reported:
        signed = open_checkpoint(note, log, origin=ORIGIN)
        size = signed.checkpoint.size
        assert roots.get(size) == signed.checkpoint.root, f"reported checkpoint {size} lost"
    check = roots if full else {s: r for s, r in roots.items() if s not in _checked}
    if previous is not None:
        check[previous] = roots[previous]
    for size, root in check.items():
        if size == 0:
            continue
        path = store.consistency_proof(size, latest.size)
        proof.verify_consistency(size, latest.size, path, root, latest.root)
        _checked.add(size)


_checked: set[int] = set()


@pytest.mark.slow
def test_sigkill_loses_nothing(tmp_path: Path) -> None:
    _checked.clear()
    url = f"sqlite:///{tmp_path}/log.db"
    signer = Ed25519Signer.generate(ORIGIN)
    rng = random.Random()
    entries: dict[int, bytes] = {}
    notes: dict[int, bytes] = {}
    reported_total = 0
    for round_ in range(KILLS):
        run = _Run(url, signer.skey(), rng.randrange(1 << 30))
        if round_ % 5 == 4:
            time.sleep(rng.uniform(0.0, 0.6))  # may land while opening or migrating
        else:
            assert run.ready.wait(30), "child did not start"
            time.sleep(rng.uniform(0.0, 0.4))
        lines = run.kill()
        reported: list[bytes] = []
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == "E":
                index, data = rest.split(" ")
                assert entries.setdefault(int(index), bytes.fromhex(data)) == bytes.fromhex(data)
            elif kind == "C":
                reported.append(base64.b64decode(rest))
            else:
                assert kind == "READY", line
        reported_total += len(reported)
        with LogStore.open(url) as store:
            _check(store, signer.verifier(), entries, notes, reported, full=round_ == KILLS - 1)
    assert reported_total > KILLS, "the child rarely committed a batch"
    assert len(notes) > KILLS
    with LogStore.open(url) as store:
        Sequencer(store, signer, ORIGIN).integrate([b"after the crashes"])

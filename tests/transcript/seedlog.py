"""A real log (LogStore + Sequencer on SQLite) holding the seed scenario, cosigned by a witness.

Keys come from fixed seeds; cosignature times are chosen by the test (``Batch.at``), so the
witnessed times of every checkpoint are known. Import as ``from transcript.seedlog import ...``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from detente.statements.kinds import WitnessKey
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, Note
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore, StoredCheckpoint
from detente.transcript.bundle import Bundle, Subject
from detente.transcript.export import build_bundle

__all__ = [
    "LOG_SIGNER",
    "ORIGIN",
    "START",
    "WITNESS",
    "SeedLog",
    "cosign",
    "export",
    "open_log",
    "seed_batches",
]

ORIGIN = "detente.example/blue-red-hotline"
START = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


LOG_SIGNER = Ed25519Signer(ORIGIN, _key("transcript test log"))
WITNESS = CosignatureSigner("witness.example/w1", _key("transcript test witness"))
WITNESS_KEYS = (WitnessKey(vkey=WITNESS.vkey()),)


def cosign(note: bytes, at: dt.datetime) -> bytes:
    """``note`` with the witness's cosignature at ``at`` (replacing an earlier one)."""
    parsed = Note.from_bytes(note)
    line = WITNESS.cosign(parsed.text.encode(), int(at.timestamp()))
    kept = tuple(s for s in parsed.signatures if s.name != WITNESS.name)
    return Note(parsed.text, (*kept, line)).to_bytes()


@dataclass
class SeedLog:
    store: LogStore
    entries: list[bytes]

    def recosign_final(self, at: dt.datetime) -> None:
        """Cosign the latest checkpoint again at ``at`` (the witness saw it still latest)."""
        latest = self.store.latest_published()
        if latest is None or latest.cosigned is None:
            raise AssertionError("nothing published")
        self.store.publish(latest.size, cosign(latest.cosigned, at))


def open_log(
    path: Path, batches: Sequence[tuple[Sequence[bytes], dt.datetime]]
) -> SeedLog:  # fmt: skip
    """Integrate each batch of entries, cosigning its checkpoint at the batch's time."""
    clock = [START]

    def publisher(checkpoint: StoredCheckpoint) -> bytes:
        return cosign(checkpoint.note, clock[0])

    store = LogStore.open(f"sqlite:///{path / 'log.db'}")
    sequencer = Sequencer(
        store, LOG_SIGNER, ORIGIN, clock=lambda: clock[0].timestamp(), publisher=publisher
    )
    entries: list[bytes] = []
    for batch, at in batches:
        clock[0] = at
        sequencer.integrate(batch)
        entries.extend(batch)
    return SeedLog(store, entries)


def seed_batches(entries: Sequence[bytes]) -> list[tuple[Sequence[bytes], dt.datetime]]:
    """The seed scenario's entries in four batches: up to the signed accord, the allegation,
    the denial, the consultation; each cosigned 30 seconds after its last statement."""
    minute = dt.timedelta(minutes=1)
    half = dt.timedelta(seconds=30)
    cuts = [(0, 8, START + 4 * minute + half), (8, 9, START + 5 * minute + half)]
    cuts += [(9, 10, START + 6 * minute + half), (10, 12, START + 9 * minute + half)]
    return [(entries[a:b], at) for a, b, at in cuts if entries[a:b]]


def export(log: SeedLog, subject: Subject, *, earlier: bool = True) -> Bundle:
    store = log.store
    final = store.latest_published()
    if final is None or final.cosigned is None:
        raise AssertionError("nothing published")
    notes = [c.cosigned for c in store.checkpoints(published_only=True) if c.cosigned]
    return build_bundle(
        subject,
        checkpoint=final.cosigned,
        fetch_entry=lambda i: store.read_entries(i, 1)[0],
        fetch_proof=store.inclusion_proof,
        earlier=notes if earlier else (),
        fetch_consistency=store.consistency_proof,
    )

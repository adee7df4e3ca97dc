"""The sequencer: batching, one transaction per batch, signing, publishing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from logtrees import BACKENDS, RefTree, store_url

from detente.errors import NotFoundError, StorageError, TooLargeError
from detente.tlog import proof, sequencer
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.hashing import EMPTY_ROOT
from detente.tlog.note import Ed25519Signer, Note
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore, StoredCheckpoint
from detente.tlog.tile import MAX_ENTRY_SIZE, TileID, tiles_for_size

ORIGIN = "example.com/detente-test"
SIGNER = Ed25519Signer.generate(ORIGIN)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as u:
        yield u


@pytest.fixture
def store(url: str) -> Iterator[LogStore]:
    s = LogStore.open(url)
    try:
        yield s
    finally:
        s.close()


def _entries(start: int, n: int) -> list[bytes]:
    return [f"entry {i}".encode() * (i % 3) for i in range(start, start + n)]


def test_public_api() -> None:
    assert sequencer.__all__ == ["Clock", "Publisher", "Sequencer"]


def test_creating_signs_the_empty_tree(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN, clock=lambda: 42.5)
    cp = store.latest_published()
    assert cp is not None
    assert (cp.size, cp.root, cp.created_at) == (0, EMPTY_ROOT, 42.5)
    open_checkpoint(cp.cosigned or b"", SIGNER.verifier(), origin=ORIGIN)
    Sequencer(store, SIGNER, ORIGIN)
    assert len(store.checkpoints()) == 1, "reopening signs nothing"


def test_integrate_writes_entries_tiles_state_and_checkpoint(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, clock=lambda: 7.0)
    entries = _entries(0, 70_000 // 64)
    tree = RefTree(entries)
    assert seq.integrate(entries[:300]) == list(range(300))
    assert seq.integrate(entries[300:301]) == [300]
    assert seq.integrate(entries[301:]) == list(range(301, len(entries)))
    size = len(entries)
    latest = store.latest_published()
    assert latest is not None
    signed = open_checkpoint(latest.cosigned or b"", SIGNER.verifier(), origin=ORIGIN)
    assert (signed.checkpoint.size, signed.checkpoint.root) == (size, tree.root(size))
    for tile in tiles_for_size(size):
        assert store.read_tile(tile) == tree.tile(tile)
    for index in range(size // 256):
        assert store.read_tile(TileID(0, index, 256)) == tree.tile(TileID(0, index, 256))
    assert store.read_entries(0, size) == entries
    assert [c.size for c in store.checkpoints()] == [0, 300, 301, size]


def test_empty_batch_signs_nothing(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN)
    assert seq.integrate([]) == []
    assert len(store.checkpoints()) == 1


def test_too_large_refuses_the_whole_batch(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN)
    seq.integrate([b"first"])
    batch = [b"ok", b"x" * (MAX_ENTRY_SIZE + 1), b"also ok"]
    with pytest.raises(TooLargeError, match="entry 1 of the batch has 65536 bytes"):
        seq.integrate(batch)
    state = store.state()
    assert state is not None
    assert state.size == 1
    assert [c.size for c in store.checkpoints()] == [0, 1]
    assert seq.integrate([b"y" * MAX_ENTRY_SIZE, b""]) == [1, 2]
    assert store.read_entries(1, 2) == [b"y" * MAX_ENTRY_SIZE, b""]


def test_other_origin_is_refused(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN)
    with pytest.raises(StorageError, match=r"not 'other\.example/log'"):
        Sequencer(store, Ed25519Signer.generate("other.example/log"), "other.example/log")


def test_state_that_differs_from_the_signed_checkpoint_stops_signing(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN)
    seq.integrate(_entries(0, 5))
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tlog_state SET peaks = :p"), {"p": b"\x01" * 64})
    with pytest.raises(StorageError, match="refusing to sign"):
        seq.integrate([b"more"])
    with pytest.raises(StorageError, match="refusing to sign"):
        Sequencer(store, SIGNER, ORIGIN)
    assert [c.size for c in store.checkpoints()] == [0, 5]
    with pytest.raises(NotFoundError, match="entries"):
        store.read_entries(5, 1)


def test_checkpoints_without_state_are_refused(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tlog_state"))
    with pytest.raises(StorageError, match="no log state"):
        Sequencer(store, SIGNER, ORIGIN)


def test_publisher_adds_cosignatures(store: LogStore) -> None:
    witness = CosignatureSigner.generate("witness.example")
    seen: list[int] = []

    def publish(cp: StoredCheckpoint) -> bytes:
        seen.append(cp.size)
        note = Note.from_bytes(cp.note)
        cosig = witness.cosign(note.text.encode(), 1_700_000_000)
        return Note(note.text, (*note.signatures, cosig)).to_bytes()

    seq = Sequencer(store, SIGNER, ORIGIN, publisher=publish)
    seq.integrate([b"a", b"b", b"c"])
    assert seen == [0, 3]
    latest = store.latest_published()
    assert latest is not None
    assert latest.size == 3
    signed = open_checkpoint(latest.cosigned or b"", SIGNER.verifier(), [witness.verifier()], 1)
    assert signed.cosignatures == (("witness.example", 1_700_000_000),)


def test_failed_publication_is_retried(store: LogStore, caplog: pytest.LogCaptureFixture) -> None:
    down = True

    def publish(cp: StoredCheckpoint) -> bytes:
        if down:
            raise ConnectionError("witness down")
        return cp.note

    seq = Sequencer(store, SIGNER, ORIGIN, publisher=publish)
    assert seq.integrate([b"a"]) == [0], "entries are durable even if publishing fails"
    assert "publishing the checkpoint at size 1 failed" in caplog.text
    assert store.latest_published() is None
    latest = store.latest_checkpoint()
    assert latest is not None
    assert not latest.published
    down = False
    republished = seq.publish_pending()
    assert republished is not None
    assert republished.published
    assert seq.publish_pending() is None


def test_async_add_pools_by_count(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, max_batch=32, max_delay=30.0)

    async def main() -> list[int]:
        return await asyncio.gather(*(seq.add(e) for e in _entries(0, 96)))

    assert sorted(asyncio.run(main())) == list(range(96))
    assert [c.size for c in store.checkpoints()] == [0, 32, 64, 96]
    assert store.read_entries(0, 96) == _entries(0, 96)


def test_async_add_pools_by_time(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, max_batch=4096, max_delay=0.05)

    async def main() -> list[int]:
        first = await asyncio.gather(*(seq.add(e) for e in _entries(0, 10)))
        second = await asyncio.gather(*(seq.add(e) for e in _entries(10, 5)))
        return [*first, *second]

    assert asyncio.run(main()) == list(range(15))
    assert [c.size for c in store.checkpoints()] == [0, 10, 15]


def test_async_flush_and_refusal(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, max_batch=4096, max_delay=60.0)

    async def main() -> list[int]:
        with pytest.raises(TooLargeError):
            await seq.add(b"z" * (MAX_ENTRY_SIZE + 1))
        tasks = [asyncio.create_task(seq.add(e)) for e in _entries(0, 3)]
        await asyncio.sleep(0)
        await seq.flush()
        return [t.result() for t in tasks]

    assert asyncio.run(main()) == [0, 1, 2]


def test_close_pool_commits_a_batch_without_the_delay(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, max_batch=4096, max_delay=60.0)

    async def main() -> list[int]:
        seq.close_pool()  # nothing queued: nothing to do
        futures = [seq.submit(e) for e in _entries(0, 5)]
        seq.close_pool()
        return list(await asyncio.wait_for(asyncio.gather(*futures), 10.0))

    assert asyncio.run(main()) == list(range(5))
    assert [c.size for c in store.checkpoints()] == [0, 5]


def test_async_errors_reach_every_waiter(store: LogStore) -> None:
    seq = Sequencer(store, SIGNER, ORIGIN, max_batch=2, max_delay=0.01)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tlog_state SET peaks = :p"), {"p": b""})
        conn.execute(sa.text("UPDATE tlog_state SET size = 0"))
        conn.execute(sa.text("DELETE FROM tlog_checkpoints"))

    async def main() -> list[BaseException | int]:
        return await asyncio.gather(*(seq.add(b"x") for _ in range(3)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, StorageError) for r in results)


def test_two_writers_never_sign_inconsistent_checkpoints(url: str) -> None:
    """Two sequencers (separate connection pools) on one database, racing in threads."""
    stores = [LogStore.open(url), LogStore.open(url)]
    try:
        seqs = [Sequencer(s, SIGNER, ORIGIN) for s in stores]
        indices: list[list[int]] = [[], []]

        def run(k: int) -> None:
            for i in range(15):
                indices[k].extend(seqs[k].integrate(_entries(1000 * k + 10 * i, 10)))

        threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(indices[0] + indices[1]) == list(range(300))
        store = stores[0]
        latest = store.latest_checkpoint()
        assert latest is not None
        assert latest.size == 300
        entries = store.read_entries(0, 300)
        assert RefTree(entries).root(300) == latest.root
        for cp in store.checkpoints():
            if cp.size:
                path = store.consistency_proof(cp.size, 300)
                proof.verify_consistency(cp.size, 300, path, cp.root, latest.root)
    finally:
        for s in stores:
            s.close()


def test_bad_pooling_arguments(store: LogStore) -> None:
    with pytest.raises(ValueError, match="max_batch 0"):
        Sequencer(store, SIGNER, ORIGIN, max_batch=0)

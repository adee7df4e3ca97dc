"""The durable store (detente.tlog.storage) on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from logtrees import (
    BACKENDS,
    RefTree,
    check_consistency_mutations,
    check_inclusion_mutations,
    store_url,
)

from detente.errors import MalformedError, NotFoundError
from detente.tlog import proof, storage
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, Note, sign_note
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from detente.tlog.tile import ENTRIES_LEVEL, TileID, format_entry_bundle

ORIGIN = "example.com/detente-test"
SIGNER = Ed25519Signer.generate(ORIGIN)
_SIZE = 2600


class Built:
    """A log of ``_SIZE`` entries integrated in random batches, and its reference tree."""

    def __init__(self, store: LogStore) -> None:
        rng = random.Random(9162)
        self.store = store
        self.entries = [rng.randbytes(rng.randrange(0, 40)) for _ in range(_SIZE)]
        self.tree = RefTree(self.entries)
        seq = Sequencer(store, SIGNER, ORIGIN, clock=lambda: 1_700_000_000.0)
        done = 0
        while done < _SIZE:
            n = min(_SIZE - done, rng.choice([1, 2, 7, 255, 256, 257, 600]))
            seq.integrate(self.entries[done : done + n])
            done += n


@pytest.fixture(scope="module", params=BACKENDS)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    with store_url(request.param, tmp_path_factory.mktemp("built")) as url:
        store = LogStore.open(url)
        try:
            yield Built(store)
        finally:
            store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    with store_url(request.param, tmp_path) as url:
        s = LogStore.open(url)
        try:
            yield s
        finally:
            s.close()


def test_public_api() -> None:
    assert storage.__all__ == ["LogState", "LogStore", "LogWriter", "StoredCheckpoint"]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_inclusion_proofs_from_storage_verify(built: Built, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, _SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    path = built.store.inclusion_proof(index, size)
    root = built.store.tree_root(size)
    assert root == built.tree.root(size)
    check_inclusion_mutations(index, size, built.tree.leaves[index], path, root)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_consistency_proofs_from_storage_verify(built: Built, data: st.DataObject) -> None:
    size2 = data.draw(st.integers(1, _SIZE), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    path = built.store.consistency_proof(size1, size2)
    root1, root2 = built.store.tree_root(size1), built.store.tree_root(size2)
    check_consistency_mutations(size1, size2, path, root1, root2)


def test_every_checkpoint_is_consistent_with_the_latest(built: Built) -> None:
    latest = built.store.latest_checkpoint()
    assert latest is not None
    assert latest.size == _SIZE
    assert latest.root == built.tree.root(_SIZE)
    checkpoints = built.store.checkpoints(limit=10_000)
    assert checkpoints[0].size == 0
    assert checkpoints[-1] == latest
    for cp in checkpoints:
        signed = open_checkpoint(cp.note, SIGNER.verifier(), origin=ORIGIN)
        assert (signed.checkpoint.size, signed.checkpoint.root) == (cp.size, cp.root)
        assert cp.cosigned == cp.note
        assert cp.created_at == 1_700_000_000.0
        if cp.size:
            consistency = built.store.consistency_proof(cp.size, latest.size)
            proof.verify_consistency(cp.size, latest.size, consistency, cp.root, latest.root)


def test_tiles_and_entries_match_the_reference(built: Built) -> None:
    tree, store = built.tree, built.store
    for tile in (TileID(0, 0, 256), TileID(0, 10, 40), TileID(0, 10, 39), TileID(1, 0, 10)):
        assert store.read_tile(tile) == tree.tile(tile)
    assert store.read_tile(TileID(0, 3, 5)) == tree.tile(TileID(0, 3, 5)), "truncated full tile"
    with pytest.raises(NotFoundError):
        store.read_tile(TileID(0, 10, 41))
    with pytest.raises(NotFoundError):
        store.read_tile(TileID(1, 0, 11))
    with pytest.raises(NotFoundError):
        store.read_tile(TileID(2, 0, 1))
    bundle = store.read_tile(TileID(ENTRIES_LEVEL, 2, 256))
    assert bundle == format_entry_bundle(built.entries[512:768])
    assert store.read_tile(TileID(ENTRIES_LEVEL, 10, 40)) == format_entry_bundle(
        built.entries[2560:2600]
    )
    with pytest.raises(NotFoundError):
        store.read_tile(TileID(ENTRIES_LEVEL, 10, 41))
    assert store.read_entries(5, 3) == built.entries[5:8]
    assert store.read_entries(_SIZE, 0) == []
    with pytest.raises(NotFoundError):
        store.read_entries(_SIZE - 1, 2)
    with pytest.raises(MalformedError):
        store.read_entries(-1, 2)
    with pytest.raises(NotFoundError):
        store.inclusion_proof(0, _SIZE + 1)


def test_state_is_the_compact_range(built: Built) -> None:
    state = built.store.state()
    assert state is not None
    assert (state.origin, state.size) == (ORIGIN, _SIZE)
    assert len(state.peaks) == _SIZE.bit_count()


def test_empty_store(store: LogStore) -> None:
    assert store.state() is None
    assert store.latest_checkpoint() is None
    assert store.latest_published() is None
    assert store.checkpoints() == []
    with pytest.raises(NotFoundError):
        store.checkpoint(0)
    with pytest.raises(NotFoundError):
        store.read_tile(TileID(0, 0, 1))


def test_open_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    with LogStore.open(url) as first:
        Sequencer(first, SIGNER, ORIGIN).integrate([b"a", b"b"])
    with LogStore.open(url) as second:
        assert second.read_entries(0, 2) == [b"a", b"b"]
        with second.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM tlog_alembic_version")
            assert version.scalar_one() == "0001"


def test_sqlite_settings(tmp_path: Path) -> None:
    with LogStore.open(f"sqlite:///{tmp_path}/log.db") as store, store.engine.connect() as conn:
        pragmas = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 60000,
    }


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://x/y"])
def test_unusable_urls(url: str) -> None:
    with pytest.raises(MalformedError):
        LogStore.open(url)


def test_publish(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN, publisher=lambda cp: cp.note)
    seq = Sequencer(store, SIGNER, ORIGIN, publisher=_failing)
    seq.integrate([b"one"])
    latest = store.latest_checkpoint()
    assert latest is not None
    assert not latest.published
    published = store.latest_published()
    assert published is not None
    assert published.size == 0
    witness = CosignatureSigner.generate("witness.example")
    note = Note.from_bytes(latest.note)
    cosigned = Note(note.text, (*note.signatures, witness.cosign(note.text.encode(), 1234)))
    store.publish(1, cosigned.to_bytes())
    published = store.latest_published()
    assert published is not None
    assert published.size == 1
    assert published.cosigned == cosigned.to_bytes()
    signed = open_checkpoint(published.cosigned, SIGNER.verifier(), [witness.verifier()], 1)
    assert signed.cosignatures == (("witness.example", 1234),)
    assert [c.size for c in store.checkpoints(published_only=True)] == [0, 1]
    assert [c.size for c in store.checkpoints(after=0)] == [1]
    other = sign_note("example.com/detente-test\n1\nAAAA\n", [SIGNER])
    with pytest.raises(MalformedError, match="not the checkpoint"):
        store.publish(1, other.to_bytes())
    with pytest.raises(NotFoundError):
        store.publish(7, cosigned.to_bytes())
    with pytest.raises(MalformedError):
        store.publish(1, b"not a note")


def _failing(_cp: storage.StoredCheckpoint) -> bytes:
    raise ConnectionError("witness down")


def test_writer_rolls_back_on_error(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN)

    def write_then_fail() -> None:
        with store.writer() as w:
            w.insert_entries(0, [b"x"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with pytest.raises(NotFoundError):
        store.read_entries(0, 1)


def test_writer_refuses_bad_tiles(store: LogStore) -> None:
    with pytest.raises(MalformedError), store.writer() as w:
        w.put_tiles([(0, 0, b"\x00" * 31)])


def test_state_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(MalformedError):
        storage.LogState(ORIGIN, 3, (b"\x00" * 32,))


def test_sql_errors_are_storage_errors(store: LogStore) -> None:
    Sequencer(store, SIGNER, ORIGIN).integrate([b"x"])
    with pytest.raises(storage.StorageError), store.writer() as w:
        w.insert_entries(0, [b"duplicate index"])


def test_sqlite_rowid_entries(tmp_path: Path) -> None:
    """Entries use SQLite's rowid as their index (one b-tree, the fast path)."""
    with LogStore.open(f"sqlite:///{tmp_path}/log.db") as store, store.engine.connect() as conn:
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE name = 'tlog_entries'")
        ).scalar_one()
    assert "idx INTEGER NOT NULL" in sql


def test_cached_proofs_follow_a_growing_log(store: LogStore) -> None:
    """Partial tiles cached at one size never serve a stale or too-short width later, even
    when another LogStore on the same database does the writing; warm proofs never check
    out a connection; the cache stays within its bound."""
    rng = random.Random(6962)
    entries = [rng.randbytes(rng.randrange(0, 20)) for _ in range(1500)]
    tree = RefTree(entries)
    url = store.engine.url.render_as_string(hide_password=False)
    with LogStore.open(url, cache_tiles=3) as reader:
        seq = Sequencer(store, SIGNER, ORIGIN, clock=lambda: 1_700_000_000.0)
        checkouts: list[object] = []
        sa.event.listen(reader.engine, "checkout", lambda *_a: checkouts.append(1))
        size = 0
        for step in (1, 5, 250, 3, 300, 700, 241):
            seq.integrate(entries[size : size + step])
            size += step
            for _ in range(20):
                at = rng.randrange(1, size + 1)
                index = rng.randrange(at)
                assert list(reader.inclusion_proof(index, at)) == tree.inclusion(index, at)
                assert reader.tree_root(at) == tree.root(at)
                assert list(reader.consistency_proof(index + 1, at)) == tree.consistency(
                    index + 1, at
                )
            assert len(reader.tile_cache) <= 3
            with pytest.raises(NotFoundError):
                reader.inclusion_proof(0, size + 1)
        reader.inclusion_proof(size - 1, size)
        checkouts.clear()
        assert list(reader.inclusion_proof(size - 1, size)) == tree.inclusion(size - 1, size)
        assert checkouts == [], "a cached proof checks out no connection"


def test_default_tile_cache(store: LogStore) -> None:
    assert store.tile_cache.max_tiles == 4096

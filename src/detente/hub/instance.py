"""A hub opened from its data directory: store, publisher, sequencer, service, authenticator.

:func:`found` appends the genesis statement to a new hub's empty log; :func:`open_hub`
opens a founded hub for serving (the group state from the stored snapshot plus the entries
after it); :func:`rebuild` replays the whole log from genesis and compares digests.

:func:`tuned_gc` is what a serving hub runs under (the app's lifespan enters it): the group
state is made of persistent maps and vectors, many small objects that every full
garbage-collection pass walks, and ingesting a statement allocates a few hundred more. So
the objects alive at startup are frozen out of the collector's sight (``gc.freeze``) and the
first-generation threshold is raised from 700 to 10,000 allocations (``gc.set_threshold``),
which makes collections rarer without turning them off (reference cycles are still freed).
Measured with ``bench/hub_bench.py`` (docs/PERFORMANCE.md): batch ingest ~5-15% faster.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx

from detente.errors import ConflictError, MalformedError, StorageError
from detente.group.rules import genesis
from detente.group.state import GroupState
from detente.hub.auth import Authenticator
from detente.hub.blobs import BlobStore
from detente.hub.config import HubDir
from detente.hub.replay import Progress, replay
from detente.hub.sealing import check_sealed_blobs
from detente.hub.service import HubService, load_state
from detente.hub.snapshot import SnapshotStore
from detente.tlog.note import parse_vkey
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from detente.tlog.witnessing import Publisher, WitnessClient

__all__ = ["GC_THRESHOLD", "Hub", "RebuildResult", "found", "open_hub", "rebuild", "tuned_gc"]

Clock = Callable[[], float]
#: ``gc.set_threshold`` while a hub serves (Python's default is (700, 10, 10)).
GC_THRESHOLD = (10_000, 50, 100)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Hub:
    """Everything a running hub needs; made by :func:`open_hub`."""

    directory: HubDir
    store: LogStore
    service: HubService
    auth: Authenticator
    clock: Clock


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """Digests of a rebuild: the stored snapshot's, the replay's at the snapshot's size, and
    the replay's at the log's size."""

    size: int
    replayed: bytes
    stored_size: int | None  # None: no snapshot was stored
    stored: bytes | None
    replayed_at_stored: bytes | None

    @property
    def equal(self) -> bool:
        """The stored snapshot is what replaying the log gives (and there was one)."""
        return self.stored is not None and self.stored == self.replayed_at_stored


def _snapshots(hub: HubDir, store: LogStore) -> SnapshotStore:
    return SnapshotStore(store.engine, hub.log.signer.skey().encode())


def _check_genesis(hub: HubDir, state: GroupState) -> None:
    config = hub.log.config
    if state.log_origin != config.origin or state.log_vkey != hub.log.vkey:
        raise ConflictError(
            f"genesis names log {state.log_origin!r} with key {state.log_vkey!r}; this hub is "
            f"{config.origin!r} with key {hub.log.vkey!r}"
        )


def _publisher(
    hub: HubDir, store: LogStore, state: GroupState, http: httpx.Client
) -> Publisher | None:
    if not state.witnesses:
        return None
    clients = [
        WitnessClient(hub.witness_url(w.vkey, w.url), parse_vkey(w.vkey), http)
        for w in state.witnesses
    ]
    return Publisher(store, clients, state.witness_quorum)


def _blobs_stored(hub: HubDir) -> Callable[[Sequence[bytes], bool], None]:
    """The service's last check: every blob a statement names is stored (``blob-missing``)."""
    store = BlobStore(hub.path / "blobs")

    def admit(entries: Sequence[bytes], batch: bool) -> None:
        check_sealed_blobs(entries, store.stored, batch=batch)

    return admit


def _sequencer(
    hub: HubDir, store: LogStore, state: GroupState, http: httpx.Client, clock: Clock
) -> Sequencer:
    return Sequencer(
        store,
        hub.log.signer,
        hub.log.config.origin,
        clock=clock,
        publisher=_publisher(hub, store, state, http),
        max_batch=hub.settings.pool_size,
        max_delay=hub.settings.pool_delay,
    )


def found(hub: HubDir, entry: bytes, *, clock: Clock = time.time) -> tuple[GroupState, bool]:
    """Check ``entry`` as this hub's genesis and append it as entry 0.

    The genesis rules check that every founding party signed; this checks that it names this
    hub's log origin and key. Returns the state and whether the checkpoint covering it is
    published (False when the witnesses did not cosign yet: ``serve`` retries).
    """
    state = genesis(entry)
    _check_genesis(hub, state)
    with LogStore.open(hub.log.config.database) as store, httpx.Client() as http:
        log_state = store.state()
        if log_state is not None and log_state.size:
            raise ConflictError(f"the log already holds {log_state.size} entries")
        sequencer = _sequencer(hub, store, state, http, clock)
        if sequencer.integrate([entry]) != [0]:
            raise StorageError("genesis did not land at index 0")
        _snapshots(hub, store).save(state)
        published = store.latest_published()
        return state, published is not None and published.size >= 1


@contextlib.contextmanager
def open_hub(hub: HubDir, *, clock: Clock = time.time) -> Iterator[Hub]:
    """Open a founded hub; the store and the witness connections close on exit."""
    with LogStore.open(hub.log.config.database) as store, httpx.Client() as http:
        snapshots = _snapshots(hub, store)
        state = load_state(store, snapshots)
        _check_genesis(hub, state)
        sequencer = _sequencer(hub, store, state, http, clock)
        sequencer.publish_pending()
        settings = hub.settings
        service = HubService(
            sequencer,
            state,
            snapshots=snapshots,
            clock=clock,
            snapshot_every=settings.snapshot_every,
            admit=_blobs_stored(hub),
        )
        auth = Authenticator(
            hub.log.config.origin,
            clock,
            token_ttl=settings.token_ttl,
            challenge_ttl=settings.challenge_ttl,
        )
        try:
            yield Hub(hub, store, service, auth, clock)
        finally:
            service.stop_workers()


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    """Tune the garbage collector for serving (see the module docstring); undone on exit.

    Process-wide, so counted: several hubs in one process (tests, the demo) tune it once,
    and the last one out restores the thresholds and unfreezes what was frozen.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        _gc_users += 1
        if _gc_users == 1:
            _gc_saved = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()
                _gc_saved = None


def rebuild(
    hub: HubDir, *, progress: Progress | None = None, store_result: bool = False
) -> RebuildResult:
    """Replay the log from genesis into a fresh state; compare with the stored snapshot.

    With ``store_result`` the replayed state replaces the stored snapshot.
    """
    with LogStore.open(hub.log.config.database) as store:
        snapshots = _snapshots(hub, store)
        stored = snapshots.stored()
        state = None
        at_stored = None
        if stored is not None:
            state = replay(store, None, end=stored[0], progress=progress)
            at_stored = None if state is None else state.digest()
        state = replay(store, state, progress=progress)
        if state is None:
            raise MalformedError("the log is empty: nothing to rebuild (run `detente hub found`)")
        if store_result:
            snapshots.save(state)
    return RebuildResult(
        size=state.size,
        replayed=state.digest(),
        stored_size=None if stored is None else stored[0],
        stored=None if stored is None else stored[1],
        replayed_at_stored=at_stored,
    )

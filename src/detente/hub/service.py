"""The hub's ingest pipeline: check each statement with the group rules, then log it.

One :class:`asyncio.Lock` orders everything. Under it, each statement of a request is opened
and applied to the current group state (``detente.group.rules.apply``, judged at the hub's
clock) and, only if every one of them is accepted, all are queued to the sequencer in that
same order (:meth:`Sequencer.submit` queues synchronously). So the order in which statements
are applied is the order of the log, and a refused statement is never queued: nothing of it
is stored. The lock is released before the batch commits, so concurrent requests pool into
one log batch; a request of several statements (a batch of its own) has the sequencer commit
at once rather than wait out its pooling delay.

``admit(entries, batch)``, if given, is a last check of a request the rules accepted whole,
made before anything is queued; it refuses by raising (the hub checks that the blobs the
statements name are stored: ``detente.hub.sealing``).

If a log batch fails to commit, the sequencer fails it and everything queued behind it; the
next request to take the lock finds that out and reloads the state from the log (the truth)
before applying anything, and the failed requests answer :class:`StorageError` (503).

A snapshot of the state is stored on :meth:`close` and, while serving, once the log has
grown by ``snapshot_every`` entries since the last one, so a restart replays only what came
after it. Storing one pickles and digests the whole state (about 1.5 s at 50,000 entries,
holding the GIL), so it waits until no request has come for ``SNAPSHOT_IDLE`` seconds; under
sustained ingest it is stored anyway once the log has grown by as much as its size at the
last snapshot (at least ``snapshot_every``), which keeps its cost per entry bounded however
long the log gets, and a restart's replay at most as long as what was snapshotted.

Signatures are checked ahead (``detente.statements.verifier``): as a request arrives, every
signature of its entries by a party's current key is pre-verified, a large request in worker
processes chunk by chunk, a small one in threads. Under the lock the request applies each
chunk as soon as its signatures are in the verification memo, so the next chunk is verified
on one core while this one is applied on the other. When it would wait, it verifies a chunk
no worker has started yet itself (the event loop is busy meanwhile, as while applying), and
only then waits, with the event loop free.
This changes no outcome: an entry that does not parse, an unknown key or a signature that
fails is simply not pre-verified, and ``apply`` verifies it itself and refuses it as before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Sequence

from immutables import Map

from detente.errors import DetenteError, NotFoundError, StorageError, TooLargeError
from detente.group.rules import apply
from detente.group.state import GroupState, Party
from detente.group.views import signing_keys
from detente.hub.replay import replay
from detente.hub.snapshot import SnapshotStore
from detente.statements.envelope import MAX_ENTRY_SIZE
from detente.statements.verifier import CHECK_WAIT, Verifier, take_until_done
from detente.tlog.receipt import Receipt
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore

__all__ = ["BatchRefusedError", "HubService", "load_state"]

_log = logging.getLogger(__name__)
#: Seconds without a request before a due snapshot is stored.
SNAPSHOT_IDLE = 1.0
_POLL = 0.02


class BatchRefusedError(DetenteError):
    """One statement of a batch was refused, so the whole batch was (nothing stored).

    ``position`` is its place in the batch (from 0), ``cause`` the error that refused it.
    """

    def __init__(self, position: int, cause: DetenteError) -> None:
        super().__init__(f"statement {position} of the batch was refused: {cause}")
        self.position = position
        self.cause = cause


def _apply(
    state: GroupState,
    entries: Sequence[bytes],
    start: int,
    stop: int,
    at: dt.datetime,
    batch: bool,
) -> GroupState:
    """``state`` after ``entries[start:stop]``; the refusal names the position in a batch."""
    for position in range(start, stop):
        entry = entries[position]
        try:
            if len(entry) > MAX_ENTRY_SIZE:
                raise TooLargeError(
                    f"a statement has {len(entry)} bytes, more than {MAX_ENTRY_SIZE}"
                )
            state = apply(state, entry, at=at)
        except DetenteError as exc:
            if batch:
                raise BatchRefusedError(position, exc) from exc
            raise
    return state


def load_state(store: LogStore, snapshots: SnapshotStore | None = None) -> GroupState:
    """The group state of the whole log: the stored snapshot (if it authenticates) plus the
    entries after it. NotFoundError when the log has no genesis yet."""
    snapshot = None if snapshots is None else snapshots.load()
    log_state = store.state()
    size = 0 if log_state is None else log_state.size
    start = None
    if snapshot is not None and snapshot.size <= size:
        start = snapshot.state
    state = replay(store, start)
    if state is None:
        raise NotFoundError("the log holds no genesis statement yet (run `detente hub found`)")
    return state


class HubService:
    """Accepts statements into the log of ``sequencer`` and keeps the group state current."""

    def __init__(
        self,
        sequencer: Sequencer,
        state: GroupState,
        *,
        snapshots: SnapshotStore | None = None,
        clock: Callable[[], float] = time.time,
        snapshot_every: int = 10_000,
        verify_workers: int | None = None,
        admit: Callable[[Sequence[bytes], bool], None] | None = None,
    ) -> None:
        self._sequencer = sequencer
        self._admit = admit
        self._store = sequencer.store
        self._state = state
        self._snapshots = snapshots
        self._clock = clock
        self._snapshot_every = snapshot_every
        self._snapshot_size = state.size
        self._saving: asyncio.Task[None] | None = None
        self._due: GroupState | None = None  # a committed state whose snapshot is due
        self._idle_check: asyncio.TimerHandle | None = None
        self._last_request = time.monotonic()
        self._lock = asyncio.Lock()
        self._last: asyncio.Future[int] | None = None
        # None: the machine's cores decide (see Verifier); 0: no pre-verification.
        none = verify_workers == 0
        self._verifier = Verifier(
            processes=0 if none else verify_workers, threads=0 if none else verify_workers
        )
        self._keys: tuple[Map[str, Party], dict[str, bytes]] | None = None

    @property
    def state(self) -> GroupState:
        """The state after every statement accepted so far (some may still be committing)."""
        return self._state

    @property
    def store(self) -> LogStore:
        return self._store

    @property
    def sequencer(self) -> Sequencer:
        return self._sequencer

    # -- ingest ---------------------------------------------------------------------------

    async def submit(self, entries: Sequence[bytes], *, batch: bool = False) -> list[int]:
        """Check and log ``entries``, all or none; their log indices once durable.

        Refusals: the error of the rules or the parser (RejectedError, MalformedError,
        SignatureError, TooLargeError), wrapped in BatchRefusedError with the position when
        ``batch``. StorageError when the log could not commit them.
        """
        self._last_request = time.monotonic()
        checks = self._verifier.start(entries, self._current_keys())
        try:
            # The lock is the first await: requests are applied in the order they were made
            # (asyncio.Lock is first come, first served). Their signatures are checked
            # meanwhile, so a request waiting for the lock is usually verified already.
            async with self._lock:
                await self._recover()
                at = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
                state = self._state
                # Only this request changes the state until it is queued (the lock); other
                # requests run meanwhile only as far as the lock.
                for number, check in enumerate(checks):
                    # Rather than wait, verify the last chunks no worker has started.
                    if not take_until_done(check, checks[number:]):
                        # Done, failed or late alike: apply verifies the rest itself.
                        done = asyncio.wrap_future(check.done)
                        await asyncio.wait([done], timeout=CHECK_WAIT)
                    state = _apply(state, entries, check.start, check.stop, at, batch)
                if not checks:
                    state = _apply(state, entries, 0, len(entries), at, batch)
                if self._failed():
                    # An earlier request failed to commit while this one waited for its
                    # signatures: apply it again to the log as it is (all verified now).
                    await self._recover()
                    state = _apply(self._state, entries, 0, len(entries), at, batch)
                # From here to queueing there is no await: nothing else runs in between.
                if self._admit is not None:  # e.g. the blobs named must be stored
                    self._admit(entries, batch)
                futures = [self._sequencer.submit(entry) for entry in entries]
                if len(futures) > 1:  # a batch of its own: no need to wait for others to pool
                    self._sequencer.close_pool()
                self._state = state
                if futures:
                    # Only the state after the whole request is kept for a snapshot: holding
                    # one state per entry until it commits makes the garbage collector walk
                    # hundreds of versions of the state's large persistent maps.
                    futures[-1].add_done_callback(functools.partial(self._committed, state))
                    self._last = futures[-1]
        finally:
            for check in checks:  # a request cancelled while waiting needs none of them
                check.done.cancel()
        try:
            # Shielded: a client that goes away must not cancel what is already queued.
            return list(await asyncio.shield(asyncio.gather(*futures)))
        except DetenteError:
            raise
        except Exception as exc:
            raise StorageError(f"the log could not commit the statements: {exc}") from exc

    def stop_workers(self) -> None:
        """Stop the signature workers (``close`` does it too); for an owner that never
        served, or served without the app's lifespan."""
        self._verifier.close()

    def warm(self) -> None:
        """Start the signature workers now rather than on the first large request."""
        self._verifier.warm()

    async def _recover(self) -> None:
        """If a request failed to commit, reload the state from the log (the truth)."""
        if self._failed():
            self._state = await asyncio.to_thread(load_state, self._store, self._snapshots)
            self._last = None

    def _current_keys(self) -> dict[str, bytes]:
        """Each speaking party's current signing key by keyid (rebuilt when parties change)."""
        parties = self._state.parties
        if self._keys is None or self._keys[0] is not parties:
            self._keys = (parties, signing_keys(self._state))
        return self._keys[1]

    def _failed(self) -> bool:
        last = self._last
        return last is not None and last.done() and (last.cancelled() or bool(last.exception()))

    def _committed(self, state: GroupState, future: asyncio.Future[int]) -> None:
        if future.cancelled() or future.exception() is not None or self._snapshots is None:
            return
        index = future.result()
        if state.size != index + 1:
            _log.error("state of %d entries committed at log index %d", state.size, index)
            return
        if index + 1 - self._snapshot_size < self._snapshot_every:
            return
        self._due = state
        if index + 1 - self._snapshot_size >= max(self._snapshot_every, self._snapshot_size):
            self._save_due()  # sustained ingest: the log doubled since the last snapshot
        elif self._idle_check is None:
            self._idle_check = asyncio.get_running_loop().call_later(SNAPSHOT_IDLE, self._when_idle)

    def _when_idle(self) -> None:
        self._idle_check = None
        if self._due is None:
            return
        quiet = time.monotonic() - self._last_request
        saving = self._saving is not None and not self._saving.done()
        if quiet >= SNAPSHOT_IDLE and not saving:
            self._save_due()
        else:
            self._idle_check = asyncio.get_running_loop().call_later(
                max(SNAPSHOT_IDLE - quiet, 0.1), self._when_idle
            )

    def _save_due(self) -> None:
        """Store the due snapshot, unless one is being stored (then the next commit will)."""
        state = self._due
        if state is None or (self._saving is not None and not self._saving.done()):
            return
        self._due = None
        self._snapshot_size = state.size
        self._saving = asyncio.get_running_loop().create_task(self._save(state))

    async def _save(self, state: GroupState) -> None:
        if self._snapshots is None:
            return
        try:
            await asyncio.to_thread(self._snapshots.save, state)
        except StorageError:
            _log.exception("storing the state snapshot at size %d failed", state.size)

    # -- receipts -------------------------------------------------------------------------

    def receipt(self, index: int) -> Receipt:
        """A receipt for entry ``index`` under the latest published checkpoint.

        NotFoundError until a published checkpoint covers it.
        """
        if index < 0:
            raise NotFoundError(f"no entry {index}")
        published = self._store.latest_published()
        if published is None or published.cosigned is None or index >= published.size:
            size = 0 if published is None else published.size
            raise NotFoundError(
                f"entry {index} is not covered by a published checkpoint yet (size {size})"
            )
        proof = self._store.inclusion_proof(index, published.size)
        return Receipt(index=index, proof=proof, checkpoint=published.cosigned)

    async def wait_receipt(self, index: int, timeout: float) -> Receipt | None:
        """The receipt of durable entry ``index``, waiting up to ``timeout`` seconds for a
        published checkpoint (retrying publication once); None if none came in time."""
        deadline = time.monotonic() + timeout
        retried = False
        while True:
            try:
                return await asyncio.to_thread(self.receipt, index)
            except NotFoundError:
                pass
            if not retried:
                retried = True
                await asyncio.to_thread(self._sequencer.publish_pending)
                continue
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(_POLL)

    # -- lifecycle ------------------------------------------------------------------------

    async def close(self) -> None:
        """Commit what is queued and store a snapshot of the state if it is all durable."""
        await self._sequencer.flush()
        self._verifier.close()
        if self._idle_check is not None:
            self._idle_check.cancel()
            self._idle_check = None
        async with self._lock:
            if self._saving is not None:
                await self._saving
            if self._snapshots is None or self._failed():
                return
            log_state = self._store.state()
            if log_state is not None and log_state.size == self._state.size:
                await asyncio.to_thread(self._snapshots.save, self._state)

"""The sequencer: the log's one writer. Assigns indices, integrates, signs, publishes.

One batch is one transaction: the entries, every hash tile the batch touched, the new
compact-range state and the newly signed checkpoint commit together or not at all. The
transaction holds the store's single-writer lock and reloads the state inside it; if the
stored state's root is not the root of the latest signed checkpoint the sequencer refuses
to go on (:class:`StorageError`), so the log never signs two inconsistent checkpoints.

Publishing: a checkpoint is published when the store holds its cosigned note (what
``/checkpoint`` serves). With no publisher the signed note is published as it is, in the
same transaction. With a publisher (which collects witness cosignatures) the sequencer calls
it after the commit and stores what it returns; if it fails, the checkpoint stays signed but
unpublished and :meth:`Sequencer.publish_pending` can retry. One publication runs at a time,
and a checkpoint older than the published one is never sent (a newer one covers it).

The pooled path resolves its callers' futures as soon as their batch is durable (their indices
are final then) and publishes afterwards, in the background, while the next batch commits;
callers that need a cosigned checkpoint wait for one separately.

Time comes from the ``clock`` passed in (POSIX seconds), used for ``created_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from detente.errors import StorageError, TooLargeError
from detente.tlog.checkpoint import Checkpoint, sign_checkpoint
from detente.tlog.compact import CompactRange
from detente.tlog.hashing import HASH_SIZE, leaf_hash
from detente.tlog.note import Signer
from detente.tlog.proof import NodeID
from detente.tlog.storage import LogState, LogStore, LogWriter, StoredCheckpoint
from detente.tlog.tile import MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH

__all__ = ["Clock", "Publisher", "Sequencer"]

#: POSIX time in seconds.
Clock = Callable[[], float]
#: Given a freshly signed checkpoint, returns its note with the witnesses' cosignatures
#: added (same checkpoint text), or raises. Runs after the commit, outside the transaction.
Publisher = Callable[[StoredCheckpoint], bytes]

_log = logging.getLogger(__name__)
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_TILE_MASK = TILE_HEIGHT - 1


def _check_sizes(entries: Sequence[bytes]) -> None:
    if not entries or max(map(len, entries)) <= MAX_ENTRY_SIZE:
        return
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TooLargeError(
                f"entry {i} of the batch has {len(entry)} bytes, more than {MAX_ENTRY_SIZE}; "
                f"the whole batch of {len(entries)} is refused"
            )


def _extend(tree: CompactRange, leaves: list[bytes]) -> list[list[bytes]]:
    """Append ``leaves`` to ``tree``; return the new hashes per tile level, in index order.

    Tile level 0 is the leaf hashes themselves. Nodes at tree levels 8, 16, ... complete
    only when the appended leaf's index is 255 modulo 256, so only those leaves are
    appended with a visitor (the others go through the fast path without one).
    """
    fresh: list[list[bytes]] = [leaves]

    def visit(node: NodeID, h: bytes) -> None:
        level = node.level
        if level and not level & _TILE_MASK:
            level //= TILE_HEIGHT
            while len(fresh) <= level:
                fresh.append([])
            fresh[level].append(h)

    start = tree.size
    done = 0
    # Offset (in ``leaves``) of the next leaf whose index is 255 modulo 256.
    edge = (start | (TILE_WIDTH - 1)) - start
    while edge < len(leaves):
        tree.extend(leaves[done:edge])
        tree.append(leaves[edge], visit)
        done = edge + 1
        edge += TILE_WIDTH
    tree.extend(leaves[done:])
    return fresh


class Sequencer:
    """Pools and integrates entries into ``store`` and signs checkpoints with ``signer``.

    Creating a sequencer creates the log in an empty store (signing the checkpoint of the
    empty tree) or checks that the stored log has this ``origin``.
    """

    def __init__(
        self,
        store: LogStore,
        signer: Signer,
        origin: str,
        *,
        clock: Clock = time.time,
        publisher: Publisher | None = None,
        max_batch: int = 4096,
        max_delay: float = 0.25,
    ) -> None:
        if max_batch < 1 or max_delay < 0:
            raise ValueError(f"bad pooling: max_batch {max_batch}, max_delay {max_delay}")
        self._store = store
        self._signer = signer
        self._origin = origin
        self._clock = clock
        self._publisher = publisher
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._lock = threading.Lock()  # one commit at a time (from this sequencer)
        self._publishing = threading.Lock()  # one publication at a time
        self._pending: list[tuple[bytes, asyncio.Future[int]]] = []
        self._full: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._flushing = False
        self._to_publish: StoredCheckpoint | None = None
        self._publisher_task: asyncio.Task[None] | None = None
        created = self._create()
        if created is not None:
            self._publish(created)

    @property
    def store(self) -> LogStore:
        return self._store

    @property
    def origin(self) -> str:
        return self._origin

    # -- the one transaction -------------------------------------------------------------

    def _sign(self, writer: LogWriter, size: int, root: bytes) -> StoredCheckpoint:
        note = sign_checkpoint(Checkpoint(self._origin, size, root), self._signer).to_bytes()
        published = note if self._publisher is None else None
        checkpoint = StoredCheckpoint(size, root, note, published, float(self._clock()))
        writer.add_checkpoint(checkpoint)
        return checkpoint

    def _create(self) -> StoredCheckpoint | None:
        with self._store.writer() as w:
            state = w.state()
            if state is not None:
                self._check(state, w.latest_checkpoint())
                return None
            if w.latest_checkpoint() is not None:
                raise StorageError("the store has checkpoints but no log state")
            empty = CompactRange()
            w.put_state(LogState(self._origin, 0, ()))
            return self._sign(w, 0, empty.root())

    def _check(self, state: LogState, latest: StoredCheckpoint | None) -> CompactRange:
        if state.origin != self._origin:
            raise StorageError(f"the store holds log {state.origin!r}, not {self._origin!r}")
        tree = CompactRange(state.size, state.peaks)
        if latest is None or latest.size != state.size or latest.root != tree.root():
            signed = "none" if latest is None else f"size {latest.size}"
            raise StorageError(
                f"stored state (size {state.size}) is not the latest signed checkpoint "
                f"({signed}); refusing to sign"
            )
        return tree

    def _commit(self, entries: Sequence[bytes]) -> tuple[int, StoredCheckpoint]:
        with self._store.writer() as w:
            state = w.state()
            if state is None:
                raise StorageError("the log has no state")
            tree = self._check(state, w.latest_checkpoint())
            start = state.size
            leaves = [leaf_hash(e) for e in entries]
            fresh = _extend(tree, leaves)
            tiles: list[tuple[int, int, bytes]] = []
            for level, hashes in enumerate(fresh):
                if not hashes:
                    continue
                before = start >> (TILE_HEIGHT * level)
                first, width = divmod(before, TILE_WIDTH)
                prefix = w.tile(level, first) if width else b""
                if len(prefix) != width * HASH_SIZE:
                    raise StorageError(
                        f"tile {level}/{first} has {len(prefix) // HASH_SIZE} hashes, "
                        f"the state of size {start} needs {width}"
                    )
                data = prefix + b"".join(hashes)
                for k in range(0, len(data), _TILE_BYTES):
                    tiles.append((level, first + k // _TILE_BYTES, data[k : k + _TILE_BYTES]))
            w.insert_entries(start, entries)
            w.put_tiles(tiles)
            w.put_state(LogState(self._origin, tree.size, tree.peaks))
            return start, self._sign(w, tree.size, tree.root())

    def _publish(self, checkpoint: StoredCheckpoint) -> None:
        if self._publisher is None or checkpoint.published:
            return
        with self._publishing:
            try:
                # A newer checkpoint may have been published meanwhile: it covers this one,
                # and witnesses refuse to go back to an older size.
                published = self._store.latest_published()
                if published is not None and published.size >= checkpoint.size:
                    return
                cosigned = self._publisher(checkpoint)
                self._store.publish(checkpoint.size, cosigned)
            except Exception:
                # The entries are durable and the checkpoint signed; only publication failed.
                _log.exception("publishing the checkpoint at size %d failed", checkpoint.size)

    def _commit_batch(self, entries: Sequence[bytes]) -> tuple[int, StoredCheckpoint]:
        _check_sizes(entries)
        with self._lock:
            return self._commit(entries)

    # -- synchronous API -----------------------------------------------------------------

    def integrate(self, entries: Sequence[bytes]) -> list[int]:
        """Append ``entries`` as one batch; return their indices once durable.

        The new checkpoint is signed in the same transaction and then published. If any
        entry is larger than 65,535 bytes the whole batch is refused (TooLargeError) and
        nothing is written. An empty batch writes nothing and signs nothing.
        """
        entries = list(entries)
        _check_sizes(entries)
        if not entries:
            return []
        start, checkpoint = self._commit_batch(entries)
        self._publish(checkpoint)
        return list(range(start, start + len(entries)))

    def publish_pending(self) -> StoredCheckpoint | None:
        """Retry publishing the latest signed checkpoint if it is newer than the published one."""
        latest = self._store.latest_checkpoint()
        if latest is None or latest.published:
            return None
        self._publish(latest)
        return self._store.checkpoint(latest.size)

    # -- pooled asynchronous API ---------------------------------------------------------

    async def add(self, entry: bytes) -> int:
        """Queue one entry; return its index once a batch holding it is durable.

        Batches close at ``max_batch`` entries or ``max_delay`` seconds after the first.
        An entry larger than 65,535 bytes is refused at once (TooLargeError).
        """
        return await self.submit(entry)

    def submit(self, entry: bytes) -> asyncio.Future[int]:
        """Queue one entry now (synchronously, in call order); the future gives its index.

        Entries are integrated in the order they were submitted. If a batch fails, that
        batch and every entry queued behind it fail with the same error, so no entry is
        ever integrated after an entry submitted before it was refused (callers that
        checked entries against each other in order can rely on it). Must be called from
        the event loop's thread; TooLargeError at once for an entry over 65,535 bytes.
        """
        _check_sizes([entry])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((bytes(entry), future))
        if self._full is None:
            self._full = asyncio.Event()
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return future

    def close_pool(self) -> None:
        """Commit what is queued now, without waiting out ``max_delay`` for more entries.

        For a caller that has just queued a batch of its own (many entries at once): its
        request has nothing to gain from the pooling delay. Entries queued before are
        committed with it, in order. Must be called from the event loop's thread.
        """
        if self._pending and self._full is not None:
            self._full.set()

    async def flush(self) -> None:
        """Integrate everything queued now, without waiting for ``max_delay``, and wait for
        the publication of the last checkpoint signed."""
        worker = self._worker
        if worker is not None and self._full is not None:
            self._flushing = True
            self._full.set()
            try:
                await worker
            finally:
                self._flushing = False
        publishing = self._publisher_task
        if publishing is not None:
            await publishing

    def _publish_later(self, checkpoint: StoredCheckpoint) -> None:
        """Publish ``checkpoint`` in the background (only the newest one waiting is sent)."""
        if self._publisher is None or checkpoint.published:
            return
        self._to_publish = checkpoint
        task = self._publisher_task
        if task is None or task.done():
            self._publisher_task = asyncio.get_running_loop().create_task(self._publish_queued())

    async def _publish_queued(self) -> None:
        while self._to_publish is not None:
            checkpoint, self._to_publish = self._to_publish, None
            await asyncio.to_thread(self._publish, checkpoint)

    async def _drain(self) -> None:
        full = self._full
        if full is None:
            return
        while self._pending:
            if len(self._pending) < self._max_batch and not self._flushing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(full.wait(), self._max_delay)
            full.clear()
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            try:
                start, checkpoint = await asyncio.to_thread(
                    self._commit_batch, [e for e, _ in batch]
                )
            except Exception as exc:
                # Entries queued behind a failed batch fail too: order is part of the contract.
                batch += self._pending
                self._pending.clear()
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                # Durable: the indices are final. Answer now; witnesses are asked afterwards.
                for index, (_, future) in enumerate(batch, start):
                    if not future.done():
                        future.set_result(index)
                self._publish_later(checkpoint)
            if len(self._pending) >= self._max_batch:
                full.set()

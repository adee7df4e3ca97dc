"""Signatures checked ahead of the rules, beside the process that applies them.

The hub applies every statement of a request, and a node every entry it syncs, with
``detente.group.rules.apply``, which verifies the author's signature unless the verification
memo of ``detente.statements.envelope`` already holds it. Verifying is most of the work, and
applying is Python that holds the GIL, so a :class:`Verifier` does the verifying elsewhere
and the caller applies each chunk of entries as soon as its signatures are in the memo:

- a large run of entries (more than ``small`` of them) goes to worker *processes*, in chunks
  of ``chunk``; each worker parses and verifies its chunk
  (``envelope.verified_signatures``) and the results are put in this process's memo
  (``envelope.remember_verified``) before the chunk's future completes. The workers hold no
  GIL of ours, so verifying chunk k+1 runs on one core while chunk k is applied on the other.
  Chunks wait in the verifier's own queue and are handed to the pool one ahead of its
  workers, so a caller that would wait can take a queued chunk and verify it itself
  (:meth:`Check.take`), and nothing in the pool is ever cancelled.
- a small one goes to a few threads (``cryptography`` releases the GIL while it verifies).
  A thread must take the GIL back after each signature, which an applying thread holds for
  up to the switch interval, so with threads the caller waits for every chunk before
  applying; the run is short, so little is lost.

Nothing here decides anything: a signature the verifier did not get to, or could not check
(a worker died, the pool shut down), is simply not in the memo, and ``apply`` verifies it
itself and refuses it if it fails. Processes are started on first use (``spawn``: safe in a
process that already runs threads), ignore SIGINT (the parent handles it) and are stopped by
:meth:`close`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor

from detente.statements.envelope import (
    Verified,
    preverify_entries,
    remember_verified,
    verified_signatures,
)

__all__ = ["CHECK_WAIT", "Check", "Verifier", "take_until_done"]

_log = logging.getLogger(__name__)
#: Seconds a caller waits for a chunk's check before it applies without (and so verifies
#: itself): a safety net, a check normally completes in milliseconds or fails at once.
CHECK_WAIT = 30.0
#: Worker pools that may break (a worker killed, or unable to start) before processes are
#: given up on for good and ``apply`` verifies every signature itself.
_MAX_BREAKS = 3


class Check:
    """The pre-verification of ``entries[start:stop]``: ``done`` completes (with the number
    of signatures that verified) once they are in this process's memo."""

    __slots__ = ("_entries", "_keys", "_owner", "done", "start", "stop")

    def __init__(self, start: int, stop: int, done: Future[int]) -> None:
        self.start = start
        self.stop = stop
        self.done = done
        self._owner: Verifier | None = None  # set while the chunk waits for a worker
        self._entries: Sequence[bytes] = ()
        self._keys: Mapping[str, bytes] = {}

    def take(self) -> bool:
        """Verify this chunk in the calling thread if no worker has started on it yet; True
        if it did. A caller with nothing to apply until an earlier chunk is back takes the
        last chunks itself, so both cores verify instead of one waiting."""
        owner = self._owner
        if owner is None or not owner._unqueue(self):
            return False  # a worker has it, or it is done
        count = 0
        try:
            count = remember_verified(verified_signatures(self._entries, self._keys))
        finally:
            _settle(self.done, count)
        return True


def take_until_done(check: Check, queued: Sequence[Check]) -> bool:
    """While ``check`` is not done, verify chunks of ``queued`` no worker has started, the
    last first, in the calling thread; True once ``check`` is done, False when nothing is
    left to take and it is still running (then wait for it)."""
    while not check.done.done():
        if not any(other.take() for other in reversed(queued)):
            return check.done.done()
    return True


class Verifier:
    """Pre-verifies signatures of log entries, in worker processes or threads (see above).

    ``processes`` and ``threads`` default to the machine's cores (a process for every core
    but the one that applies, at least one; threads at most 4). With one core, or both
    zero, nothing is pre-verified and ``start`` returns no checks.
    """

    def __init__(
        self,
        *,
        processes: int | None = None,
        threads: int | None = None,
        chunk: int = 64,
        small: int = 128,
        name: str = "detente-verify",
    ) -> None:
        cores = os.cpu_count() or 1
        self._processes = max(1, cores - 1) if processes is None else processes
        self._threads = min(4, cores) if threads is None else threads
        if cores < 2 and processes is None and threads is None:
            self._processes = self._threads = 0  # nothing can run beside the caller
        self._chunk = max(1, chunk)
        self._small = small
        self._name = name
        self._lock = threading.Lock()
        self._process_pool: ProcessPoolExecutor | None = None
        self._thread_pool: ThreadPoolExecutor | None = None
        self._closed = False
        # Chunks wait here, not in the pool: the pool gets at most one more than it has
        # workers, and nothing in it is ever cancelled (CPython 3.11's pool stops for good if
        # a worker dies while a cancelled item is still queued in it).
        self._queue: deque[Check] = deque()
        self._in_pool = 0
        self._breaks = 0

    def start(self, entries: Sequence[bytes], keys: Mapping[str, bytes]) -> list[Check]:
        """Start pre-verifying every signature in ``entries`` by a key in ``keys`` (keyid to
        raw public key); one :class:`Check` per chunk, in order."""
        if not entries or self._closed:
            return []
        if len(entries) > self._small and self._processes > 0:
            return self._in_processes(entries, dict(keys))
        if self._threads > 0:
            return self._in_threads(entries, keys)
        return []

    def warm(self) -> None:
        """Start the worker processes now (in the background), not on the first large run:
        for a server, whose first large request should not wait for them to start."""
        pool = self._pool() if self._processes > 0 else None
        for _ in range(self._processes if pool is not None else 0):
            pool.submit(int)  # type: ignore[union-attr]

    def close(self) -> None:
        """Stop the workers; chunks no worker has started complete with nothing verified,
        and those in a worker complete when it is done."""
        with self._lock:
            self._closed = True
            pools: list[Executor | None] = [self._process_pool, self._thread_pool]
            self._process_pool = self._thread_pool = None
            queued, self._queue = list(self._queue), deque()
        for check in queued:
            check._owner = None
            _settle(check.done, 0)
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False)

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two ways ---------------------------------------------------------------------

    def _in_threads(self, entries: Sequence[bytes], keys: Mapping[str, bytes]) -> list[Check]:
        with self._lock:
            if self._closed:
                return []
            if self._thread_pool is None:
                self._thread_pool = ThreadPoolExecutor(self._threads, thread_name_prefix=self._name)
            pool = self._thread_pool
        step = max(1, -(-len(entries) // self._threads))  # one share per thread
        checks = []
        for start in range(0, len(entries), step):
            stop = min(start + step, len(entries))
            future = pool.submit(preverify_entries, entries[start:stop], keys)
            checks.append(Check(start, stop, future))
        # Applying while threads verify makes them wait for the GIL: the caller waits for all.
        every: Future[int] = Future()
        _when_all([c.done for c in checks], every)
        return [Check(0, len(entries), every)]

    def _in_processes(self, entries: Sequence[bytes], keys: dict[str, bytes]) -> list[Check]:
        checks = []
        # The caller can start applying once the first chunk is back, so the first chunks
        # are small (a quarter, a half, then whole chunks): less time with one core idle.
        start, size = 0, max(1, self._chunk // 4)
        while start < len(entries):
            stop = min(start + size, len(entries))
            size = min(size * 2, self._chunk)
            check = Check(start, stop, Future())
            check._owner, check._entries, check._keys = self, entries[start:stop], keys
            # A caller that gives up (cancels) takes the chunk off the queue.
            check.done.add_done_callback(functools.partial(self._dropped, check=check))
            checks.append(check)
            start = stop
        with self._lock:
            if self._closed:
                return []
            self._queue.extend(checks)
        self._feed()
        return checks

    def _feed(self) -> None:
        """Hand queued chunks to the workers, keeping the pool at most one item ahead."""
        while True:
            with self._lock:
                if self._closed or not self._queue or self._in_pool > self._processes:
                    return
                check = self._queue.popleft()
                check._owner = None
                pool = self._pool_locked()
                if pool is None:  # processes given up on: apply verifies everything itself
                    _settle(check.done, 0)
                    continue
                self._in_pool += 1
            try:
                work = pool.submit(verified_signatures, list(check._entries), check._keys)
            except (BrokenProcessPool, RuntimeError) as exc:  # broken, or shut down
                self._finished_one(pool, exc)
                _settle(check.done, 0)
                continue
            work.add_done_callback(functools.partial(self._remember, check=check, pool=pool))

    def _unqueue(self, check: Check) -> bool:
        with self._lock:
            if check._owner is not self:
                return False
            check._owner = None
            self._queue.remove(check)
            return True

    def _dropped(self, done: Future[int], *, check: Check) -> None:
        if done.cancelled():
            self._unqueue(check)

    def _pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            return self._pool_locked()

    def _pool_locked(self) -> ProcessPoolExecutor | None:
        if self._closed or self._breaks >= _MAX_BREAKS:
            return None
        if self._process_pool is None:
            self._process_pool = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_started,
            )
        return self._process_pool

    def _remember(self, work: Future[list[Verified]], *, check: Check, pool: Executor) -> None:
        count = 0
        broken: BaseException | None = None
        try:
            count = remember_verified(work.result())
        except BrokenProcessPool as exc:
            broken = exc
        except Exception:  # never decisive: apply verifies what is not in the memo
            _log.exception("pre-verification in a worker process failed")
        finally:
            _settle(check.done, count)
            self._finished_one(pool, broken)
        self._feed()

    def _finished_one(self, pool: Executor, broken: BaseException | None) -> None:
        with self._lock:
            if self._process_pool is not pool:
                return  # a pool already replaced: its items were counted off then
            if broken is None:
                self._in_pool -= 1
                return
            self._breaks += 1
            self._process_pool = None
            self._in_pool = 0
            given_up = self._breaks >= _MAX_BREAKS
        _log.warning(
            "signature workers stopped (%s); %s",
            broken,
            "verifying in the applying thread from now on"
            if given_up
            else "starting new ones for what is queued",
        )
        pool.shutdown(wait=False)


def _when_all(futures: list[Future[int]], every: Future[int]) -> None:
    remaining = [len(futures)]
    total = [0]
    lock = threading.Lock()

    def one_done(future: Future[int]) -> None:
        count = 0 if future.cancelled() or future.exception() else future.result()
        with lock:
            total[0] += count
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            _settle(every, total[0])

    for future in futures:
        future.add_done_callback(one_done)


def _settle(future: Future[int], count: int) -> None:
    """Complete ``future`` unless its caller cancelled it meanwhile."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(count)


def _worker_started() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, and closes the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

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
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor

from detente.statements.envelope import (
    Verified,
    preverify_entries,
    remember_verified,
    verified_signatures,
)

__all__ = ["Check", "Verifier", "take_until_done"]

_log = logging.getLogger(__name__)


class Check:
    """The pre-verification of ``entries[start:stop]``: ``done`` completes (with the number
    of signatures that verified) once they are in this process's memo."""

    __slots__ = ("_entries", "_keys", "_taken", "_work", "done", "start", "stop")

    def __init__(self, start: int, stop: int, done: Future[int]) -> None:
        self.start = start
        self.stop = stop
        self.done = done
        self._work: Future[list[Verified]] | None = None
        self._entries: Sequence[bytes] = ()
        self._keys: Mapping[str, bytes] = {}
        self._taken = False

    def take(self) -> bool:
        """Verify this chunk in the calling thread if no worker has started on it yet; True
        if it did. A caller with nothing to apply until an earlier chunk is back takes the
        last chunks itself, so both cores verify instead of one waiting."""
        work = self._work
        if work is None or self.done.done():
            return False
        self._taken = True
        if not work.cancel():  # running or finished: the worker completes it
            self._taken = False
            return False
        _settle(self.done, remember_verified(verified_signatures(self._entries, self._keys)))
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
        if self._processes > 0 and not self._closed:
            pool = self._pool()
            for _ in range(self._processes):
                pool.submit(int)

    def close(self) -> None:
        """Stop the workers; checks still running complete with what they verified."""
        with self._lock:
            self._closed = True
            pools: list[Executor | None] = [self._process_pool, self._thread_pool]
            self._process_pool = self._thread_pool = None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two ways ---------------------------------------------------------------------

    def _in_threads(self, entries: Sequence[bytes], keys: Mapping[str, bytes]) -> list[Check]:
        with self._lock:
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
        pool = self._pool()
        checks = []
        # The caller can start applying once the first chunk is back, so the first chunks
        # are small (a quarter, a half, then whole chunks): less time with one core idle.
        start, size = 0, max(1, self._chunk // 4)
        while start < len(entries):
            stop = min(start + size, len(entries))
            size = min(size * 2, self._chunk)
            done: Future[int] = Future()
            work: Future[list[Verified]] | None = None
            try:
                work = pool.submit(verified_signatures, list(entries[start:stop]), keys)
            except (BrokenProcessPool, RuntimeError) as exc:  # broken or shut down
                self._broken(pool, exc)
                done.set_result(0)
            check = Check(start, stop, done)
            if work is not None:
                check._work, check._entries, check._keys = work, entries[start:stop], keys
                work.add_done_callback(functools.partial(self._remember, check=check, pool=pool))
                # A caller that gives up (cancels) frees the worker for what is still wanted.
                done.add_done_callback(functools.partial(_cancel_with, work=work))
            checks.append(check)
            start = stop
        return checks

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._process_pool is None:
                self._process_pool = ProcessPoolExecutor(
                    self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_started,
                )
            return self._process_pool

    def _remember(self, work: Future[list[Verified]], *, check: Check, pool: Executor) -> None:
        if work.cancelled() and check._taken:
            return  # taken by the caller, who settles it
        done = check.done
        count = 0
        try:
            if not work.cancelled():
                count = remember_verified(work.result())
        except BrokenProcessPool as exc:
            self._broken(pool, exc)
        except Exception:  # never decisive: apply verifies what is not in the memo
            _log.exception("pre-verification in a worker process failed")
        finally:
            _settle(done, count)

    def _broken(self, pool: Executor, exc: BaseException) -> None:
        with self._lock:
            if self._process_pool is pool:
                _log.warning("signature workers stopped (%s); starting new ones on next use", exc)
                self._process_pool = None
        pool.shutdown(wait=False, cancel_futures=True)


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


def _cancel_with(done: Future[int], *, work: Future[list[Verified]]) -> None:
    if done.cancelled():
        work.cancel()


def _settle(future: Future[int], count: int) -> None:
    """Complete ``future`` unless its caller cancelled it meanwhile."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(count)


def _worker_started() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, and closes the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

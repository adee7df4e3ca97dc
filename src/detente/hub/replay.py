"""Replay the log into a group state: the restart path (from a snapshot) and ``rebuild``.

Entry 0 is the genesis statement; every later entry is applied with the group rules, judged
at the time of the first checkpoint that covered it (the rules use that time only to refuse
statements issued in the future, so a replay at any later time reaches the same state). A
statement the rules refuse on replay means the log holds something the hub should never have
accepted: :class:`~detente.errors.StorageError`, naming the index and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from detente.errors import DetenteError, StorageError
from detente.group.rules import apply, genesis
from detente.group.state import GroupState
from detente.tlog.storage import LogStore

__all__ = ["CHUNK", "replay"]

#: Entries read from the store at a time.
CHUNK = 1000

Progress = Callable[[int, int], None]


def _covering_times(store: LogStore, start: int, end: int) -> list[tuple[int, float]]:
    """(size, created_at) of the signed checkpoints with start < size, up to one >= end."""
    times: list[tuple[int, float]] = []
    after = start
    while True:
        batch = store.checkpoints(after=after, limit=CHUNK)
        if not batch:
            return times
        times.extend((c.size, c.created_at) for c in batch)
        after = batch[-1].size
        if after >= end:
            return times


def replay(
    store: LogStore,
    start: GroupState | None = None,
    *,
    end: int | None = None,
    progress: Progress | None = None,
) -> GroupState | None:
    """Apply the entries after ``start`` (default: the whole log from genesis) up to ``end``
    (default: the log's size).

    Returns None for an empty log. ``progress(done, total)`` is called after each chunk.
    """
    log_state = store.state()
    size = 0 if log_state is None else log_state.size
    if end is None:
        end = size
    if end > size:
        raise StorageError(f"cannot replay to size {end}: the log has {size} entries")
    state = start
    position = 0 if state is None else state.size
    if position > end:
        raise StorageError(f"the state has {position} entries, the log only {end}")
    times = _covering_times(store, position, end)
    cursor = 0
    while position < end:
        count = min(CHUNK, end - position)
        for offset, entry in enumerate(store.read_entries(position, count)):
            index = position + offset
            while cursor < len(times) and times[cursor][0] <= index:
                cursor += 1
            if cursor == len(times):
                raise StorageError(f"no signed checkpoint covers entry {index}")
            at = dt.datetime.fromtimestamp(times[cursor][1], dt.UTC)
            try:
                state = genesis(entry) if state is None else apply(state, entry, at=at)
            except DetenteError as exc:
                raise StorageError(f"entry {index} of the log does not apply: {exc}") from exc
        position += count
        if progress is not None:
            progress(position, end)
    return state

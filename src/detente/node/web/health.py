"""Log health for the dashboard, and the witnessed time at which each entry was logged.

Times shown as "witnessed" are witness cosignature timestamps (cosignature/v1) of
checkpoints the node trusts: they are what proves, to a third party, that a deadline had
passed or that an entry was in the log by then, independently of any one clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import Any

from detente.errors import DetenteError
from detente.group.state import GroupState
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.note import parse_vkey

__all__ = ["LogHealth", "Witnessed", "log_health", "logged_at", "witnessed"]


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A trusted checkpoint: size, root, when this node first saw it, its cosignatures."""

    size: int
    root: str
    seen_at: dt.datetime
    cosignatures: tuple[tuple[str, dt.datetime | None], ...]

    @property
    def witnessed_at(self) -> dt.datetime | None:
        """The latest witness cosignature time (None: no timestamped cosignature)."""
        times = [t for _, t in self.cosignatures if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class LogHealth:
    size: int
    latest: Witnessed | None
    age: dt.timedelta | None  # now - latest witnessed time (or first seen)
    previous_size: int | None  # the trusted checkpoint the latest was proven consistent with
    witnesses: int
    quorum: int
    trusting_hub: bool
    misbehaviour: tuple[dict[str, Any], ...]


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC)


def witnessed(state: GroupState, checkpoint: Any) -> Witnessed:
    """A stored trusted checkpoint with its cosignatures opened under the genesis keys."""
    cosigs: tuple[tuple[str, dt.datetime | None], ...] = ()
    try:
        signed = open_checkpoint(
            bytes(checkpoint.note),
            parse_vkey(state.log_vkey),
            [parse_vkey(w.vkey) for w in state.witnesses],
            0,
        )
        cosigs = tuple((n, _time(ts) if ts else None) for n, ts in signed.cosignatures)
    except DetenteError:
        cosigs = ()  # the node trusted it when it synced; shown with no cosignature here
    return Witnessed(
        int(checkpoint.size), bytes(checkpoint.root).hex(), _time(checkpoint.seen_at), cosigs
    )


def logged_at(state: GroupState, checkpoints: list[Any], index: int) -> Witnessed | None:
    """The first trusted checkpoint that holds entry ``index`` (``checkpoints`` by size)."""
    sizes = [int(c.size) for c in checkpoints]
    at = bisect.bisect_right(sizes, index)
    return None if at >= len(checkpoints) else witnessed(state, checkpoints[at])


def log_health(store: Any, state: GroupState, now: dt.datetime) -> LogHealth:
    """Tree size, latest checkpoint and its age, cosignatures, consistency, misbehaviour."""
    found = sorted(store.checkpoints(), key=lambda c: int(c.size))
    latest = None if not found else witnessed(state, found[-1])
    age = None
    if latest is not None:
        age = now - (latest.witnessed_at or latest.seen_at)
    misbehaviour = tuple(
        {
            "id": m.id,
            "kind": m.kind,
            "created": _time(m.created),
            "description": m.description,
            "path": m.path,
        }
        for m in store.misbehaviours()
    )
    return LogHealth(
        size=state.size,
        latest=latest,
        age=age,
        previous_size=int(found[-2].size) if len(found) > 1 else None,
        witnesses=len(state.witnesses),
        quorum=state.witness_quorum,
        trusting_hub=store.distrusted() is None,
        misbehaviour=misbehaviour,
    )

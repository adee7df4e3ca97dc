"""detente.witness.state: per-origin (size, root) with an atomic compare-and-swap."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from detente.errors import ConflictError
from detente.witness import state as state_module
from detente.witness.policy import WitnessState
from detente.witness.state import WitnessStateStore


def _root(n: int) -> bytes:
    return hashlib.sha256(b"root %d" % n).digest()


def test_public_api() -> None:
    assert state_module.__all__ == ["WitnessStateStore"]


def test_first_insert_then_updates(tmp_path: Path) -> None:
    store = WitnessStateStore(tmp_path / "state.db")
    assert store.get("a") is None
    store.compare_and_swap("a", None, WitnessState(3, _root(3)))
    assert store.get("a") == WitnessState(3, _root(3))
    store.compare_and_swap("a", WitnessState(3, _root(3)), WitnessState(9, _root(9)))
    assert store.get("a") == WitnessState(9, _root(9))
    assert store.get("b") is None
    assert store.origins() == {"a": WitnessState(9, _root(9))}


def test_stale_expectations_are_conflicts(tmp_path: Path) -> None:
    store = WitnessStateStore(tmp_path / "state.db")
    store.compare_and_swap("a", None, WitnessState(3, _root(3)))
    with pytest.raises(ConflictError):
        store.compare_and_swap("a", None, WitnessState(5, _root(5)))
    with pytest.raises(ConflictError):  # right size, wrong root
        store.compare_and_swap("a", WitnessState(3, _root(4)), WitnessState(5, _root(5)))
    with pytest.raises(ConflictError):  # wrong size
        store.compare_and_swap("a", WitnessState(2, _root(3)), WitnessState(5, _root(5)))
    assert store.get("a") == WitnessState(3, _root(3))


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    WitnessStateStore(path).compare_and_swap("a", None, WitnessState(7, _root(7)))
    assert WitnessStateStore(path).get("a") == WitnessState(7, _root(7))


def test_uint64_sizes_fit(tmp_path: Path) -> None:
    store = WitnessStateStore(tmp_path / "state.db")
    big = (1 << 64) - 1
    store.compare_and_swap("a", None, WitnessState(big - 1, _root(1)))
    store.compare_and_swap("a", WitnessState(big - 1, _root(1)), WitnessState(big, _root(2)))
    assert store.get("a") == WitnessState(big, _root(2))


def test_concurrent_swaps_from_one_state_have_one_winner(tmp_path: Path) -> None:
    store = WitnessStateStore(tmp_path / "state.db")
    old = WitnessState(1, _root(1))
    store.compare_and_swap("a", None, old)
    contenders = 8
    barrier = threading.Barrier(contenders)
    outcomes: dict[int, str] = {}

    def swap(n: int) -> None:
        barrier.wait(timeout=10)
        try:
            store.compare_and_swap("a", old, WitnessState(10 + n, _root(10 + n)))
            outcomes[n] = "won"
        except ConflictError:
            outcomes[n] = "lost"

    threads = [threading.Thread(target=swap, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["lost"] * (contenders - 1) + ["won"]
    winner = next(n for n, o in outcomes.items() if o == "won")
    assert store.get("a") == WitnessState(10 + winner, _root(10 + winner))

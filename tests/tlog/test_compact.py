"""detente.tlog.compact, cross-checked against the naive RFC 9162 reference in naive.py."""

from __future__ import annotations

import naive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError
from detente.tlog import compact as compact_module
from detente.tlog.compact import CompactRange
from detente.tlog.hashing import EMPTY_ROOT
from detente.tlog.proof import NodeID

MAX_SIZE = 2048
STORE = naive.NodeStore([naive.leaf(b"compact test leaf %d" % i) for i in range(MAX_SIZE)])


def perfect_nodes(size: int) -> set[NodeID]:
    """Every perfect subtree of the tree of ``size`` leaves."""
    return {
        NodeID(level, index) for level in range(size.bit_length()) for index in range(size >> level)
    }


def peak_ids(size: int) -> list[NodeID]:
    """The peaks of a tree of ``size``, left to right."""
    ids, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            ids.append(NodeID(level, start >> level))
            start += 1 << level
    return ids


def test_root_equals_mth_for_every_size() -> None:
    tree = CompactRange()
    assert tree.root() == EMPTY_ROOT == naive.mth([])
    for size in range(1, 1300):
        tree.append(STORE.leaves[size - 1])
        assert tree.size == size
        assert tree.root() == naive.mth(STORE.leaves[:size]), size
        assert tree.peaks == tuple(STORE.node(n.level, n.index) for n in peak_ids(size))


@given(st.integers(0, MAX_SIZE))
@settings(max_examples=40, deadline=None)
def test_root_equals_mth_for_random_sizes(size: int) -> None:
    tree = CompactRange()
    tree.extend(STORE.leaves[:size])
    assert tree.root() == STORE.root(size)


@given(st.integers(0, MAX_SIZE), st.data())
@settings(max_examples=40, deadline=None)
def test_visit_reports_exactly_the_perfect_nodes(size: int, data: st.DataObject) -> None:
    # Start from a range restored from its peaks, then append in two batches.
    start = data.draw(st.integers(0, size))
    middle = data.draw(st.integers(start, size))
    tree = CompactRange(start, [STORE.node(n.level, n.index) for n in peak_ids(start)])
    seen: list[NodeID] = []

    def visit(node: NodeID, h: bytes) -> None:
        assert h == STORE.node(node.level, node.index), node
        seen.append(node)

    tree.extend(STORE.leaves[start:middle], visit)
    for leaf in STORE.leaves[middle:size]:
        tree.append(leaf, visit)
    assert len(seen) == len(set(seen))
    assert set(seen) == perfect_nodes(size) - perfect_nodes(start)
    assert tree.root() == STORE.root(size)


def test_restore_from_peaks() -> None:
    for size in (0, 1, 5, 255, 256, 1000):
        peaks = [STORE.node(n.level, n.index) for n in peak_ids(size)]
        restored = CompactRange(size, peaks)
        assert restored.root() == STORE.root(size)
        restored.extend(STORE.leaves[size : size + 7])
        assert restored.root() == STORE.root(size + 7)


@pytest.mark.parametrize(
    ("size", "peaks", "message"),
    [
        (3, [b"\x00" * 32], "a tree of size 3 has 2 peaks, not 1"),
        (0, [b"\x00" * 32], "a tree of size 0 has 0 peaks, not 1"),
        (1, [b"\x00" * 31], "peak 0 has 31 bytes"),
        (-1, [], "size out of range"),
        (1 << 64, [], "size out of range"),
    ],
)
def test_constructor_checks(size: int, peaks: list[bytes], message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        CompactRange(size, peaks)


def test_copy_is_independent() -> None:
    tree = CompactRange()
    tree.extend(STORE.leaves[:5])
    other = tree.copy()
    other.append(STORE.leaves[5])
    assert (tree.size, tree.root()) == (5, STORE.root(5))
    assert (other.size, other.root()) == (6, STORE.root(6))


def test_bad_leaf_keeps_the_leaves_before_it() -> None:
    tree = CompactRange()
    with pytest.raises(MalformedError, match="leaf hash 3 has 5 bytes"):
        tree.extend([*STORE.leaves[:3], b"short", STORE.leaves[4]])
    assert (tree.size, tree.root()) == (3, STORE.root(3))


def test_failing_visitor_leaves_a_valid_range() -> None:
    tree = CompactRange()
    tree.extend(STORE.leaves[:3])

    def visit(node: NodeID, h: bytes) -> None:
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        tree.append(STORE.leaves[3], visit)
    assert (tree.size, tree.root()) == (4, STORE.root(4))
    tree.append(STORE.leaves[4])
    assert tree.root() == STORE.root(5)


def test_full_tree_is_refused() -> None:
    size = (1 << 64) - 1
    tree = CompactRange(size, [b"\x00" * 32] * 64)
    with pytest.raises(MalformedError, match="tree is full"):
        tree.append(STORE.leaves[0])
    assert tree.size == size


def test_repr_and_public_api() -> None:
    assert repr(CompactRange()) == "CompactRange(size=0, peaks=0)"
    assert compact_module.__all__ == ["CompactRange"]

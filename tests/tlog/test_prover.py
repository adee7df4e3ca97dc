"""Proofs built from tiles (detente.tlog.prover) against a naive RFC 9162 reference."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import naive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logtrees import RefTree, check_consistency_mutations, check_inclusion_mutations

from detente.errors import MalformedError, NotFoundError
from detente.tlog import prover
from detente.tlog.hashing import EMPTY_ROOT
from detente.tlog.proof import NodeID, assemble, consistency_plan, inclusion_plan
from detente.tlog.tile import TileID, node_tile, tile_width
from detente.tlog.tilecache import TileCache, expand_tile

_VECTORS = Path(
    os.environ.get(
        "DETENTE_VECTORS", Path(__file__).resolve().parents[3] / "shared/reference/vectors"
    )
)
_KNOWN = _VECTORS / "transparency-dev-merkle" / "rfc6962_known_answers.json"

_TREES: dict[int, RefTree] = {}


def _tree(size: int) -> RefTree:
    """A reference tree of at least ``size`` leaves (shared between examples)."""
    need = max(size, 1)
    for n, tree in _TREES.items():
        if n >= need:
            return tree
    n = max(need, 4096)
    tree = RefTree([i.to_bytes(4, "big") * (i % 5) for i in range(n)])
    _TREES[n] = tree
    return tree


def _reader(tree: RefTree, size: int, counter: Counter[TileID] | None = None) -> prover.ReadTile:
    tiles = tree.reader(size)

    def read(tile: TileID) -> bytes:
        if counter is not None:
            counter[tile] += 1
        try:
            return tiles[tile]
        except KeyError:
            raise NotFoundError(f"no tile {tile.path()}") from None

    return read


def test_public_api() -> None:
    assert prover.__all__ == [
        "ReadLevels",
        "ReadTile",
        "consistency_proof",
        "expanded_inclusion_proof",
        "expanded_node_hashes",
        "inclusion_proof",
        "node_hashes",
        "peaks",
        "tree_root",
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_inclusion_matches_reference(size: int, data: st.DataObject) -> None:
    tree = _tree(size)
    index = data.draw(st.integers(0, size - 1))
    counter: Counter[TileID] = Counter()
    got = prover.inclusion_proof(index, size, _reader(tree, size, counter))
    assert list(got) == tree.inclusion(index, size)
    assert all(n == 1 for n in counter.values()), "each tile is read once per call"


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_consistency_matches_reference(size2: int, data: st.DataObject) -> None:
    tree = _tree(size2)
    size1 = data.draw(st.integers(1, size2))
    counter: Counter[TileID] = Counter()
    got = prover.consistency_proof(size1, size2, _reader(tree, size2, counter))
    assert list(got) == tree.consistency(size1, size2)
    assert all(n == 1 for n in counter.values())


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3000))
def test_tree_root_matches_reference(size: int) -> None:
    tree = _tree(size)
    assert prover.tree_root(size, _reader(tree, size)) == tree.root(size)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_mutated_proofs_are_rejected(size: int, data: st.DataObject) -> None:
    tree = _tree(size)
    read = _reader(tree, size)
    index = data.draw(st.integers(0, size - 1))
    path = prover.inclusion_proof(index, size, read)
    check_inclusion_mutations(index, size, tree.leaves[index], path, tree.root(size))
    size1 = data.draw(st.integers(1, size))
    cpath = prover.consistency_proof(size1, size, read)
    check_consistency_mutations(size1, size, cpath, tree.root(size1), tree.root(size))


def test_node_hashes_fold_within_tiles() -> None:
    tree = _tree(70_000 // 16)
    size = 4000
    ids = [NodeID(0, 3999), NodeID(3, 7), NodeID(8, 14), NodeID(11, 0), NodeID(9, 6)]
    got = prover.node_hashes(ids, size, _reader(tree, size))
    assert got == [tree.node(n.level, n.index) for n in ids]


def test_empty_tree() -> None:
    def never(tile: TileID) -> bytes:
        raise AssertionError(f"read {tile}")

    assert prover.tree_root(0, never) == EMPTY_ROOT
    assert prover.peaks(0) == []
    assert prover.consistency_proof(0, 5, never) == ()
    assert prover.consistency_proof(5, 5, never) == ()


def test_peaks() -> None:
    assert prover.peaks(13) == [NodeID(3, 0), NodeID(2, 2), NodeID(0, 12)]
    with pytest.raises(MalformedError, match="negative"):
        prover.peaks(-1)


def test_short_tile_is_malformed() -> None:
    tree = _tree(300)
    tiles = tree.reader(300)

    def truncated(tile: TileID) -> bytes:
        return tiles[tile][:-1]

    with pytest.raises(MalformedError, match="bytes, not"):
        prover.inclusion_proof(5, 300, truncated)


def test_missing_tile_propagates() -> None:
    def missing(tile: TileID) -> bytes:
        raise NotFoundError(tile.path())

    with pytest.raises(NotFoundError):
        prover.tree_root(300, missing)


def test_bad_arguments_are_malformed() -> None:
    read = _reader(_tree(10), 10)
    with pytest.raises(MalformedError, match="index is beyond size: 10 >= 10"):
        prover.inclusion_proof(10, 10, read)
    with pytest.raises(MalformedError):
        prover.consistency_proof(11, 10, read)


def test_plans_use_few_tiles() -> None:
    """A proof in a tree of a million leaves needs one tile per level plus the right edge."""
    size = 1_000_000
    for plan in (inclusion_plan(123_456, size), consistency_plan(500_001, size)):
        tiles = {prover_tile for prover_tile in _tiles_of(plan.ids, size)}
        assert len(tiles) <= 2 * 3


def _tiles_of(ids: tuple[NodeID, ...], size: int) -> list[TileID]:
    from detente.tlog.tile import node_tile

    return [node_tile(n, size) for n in ids]


@pytest.mark.skipif(not _KNOWN.exists(), reason=f"vectors folder not found at {_VECTORS}")
def test_rfc6962_known_answers() -> None:
    """transparency-dev/merkle testonly constants (see the vectors README)."""
    known = json.loads(_KNOWN.read_text())
    tree = RefTree([bytes.fromhex(h) for h in known["leaf_inputs_hex"]])
    for size, root in enumerate(known["root_by_size_hex"]):
        assert prover.tree_root(size, _reader(tree, size)).hex() == root
    for case in known["inclusion_proofs"]:
        size = case["tree_size"]
        got = prover.inclusion_proof(case["leaf_index"], size, _reader(tree, size))
        assert [h.hex() for h in got] == case["proof_hex"]
    for case in known["consistency_proofs"]:
        size1, size2 = case["size1"], case["size2"]
        got = prover.consistency_proof(size1, size2, _reader(tree, size2))
        assert [h.hex() for h in got] == case["proof_hex"]


def _levels_reader(
    tree: RefTree, size: int, counter: Counter[tuple[int, int]] | None = None
) -> prover.ReadLevels:
    """Expanded tiles of the tree of ``size`` leaves, each as wide as that size makes it."""
    tiles = tree.reader(size)

    def read(level: int, index: int, width: int) -> tuple[bytes, ...]:
        if counter is not None:
            counter[level, index] += 1
        stored = next((t for t in tiles if (t.level, t.index) == (level, index)), None)
        if stored is None or stored.width < width:
            raise NotFoundError(f"no tile {level}/{index} of width {width}")
        return expand_tile(tiles[stored])

    return read


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_expanded_paths_match_generic_and_naive(size: int, data: st.DataObject) -> None:
    tree = _tree(size)
    index = data.draw(st.integers(0, size - 1))
    counter: Counter[tuple[int, int]] = Counter()
    fast = prover.expanded_inclusion_proof(index, size, _levels_reader(tree, size, counter))
    assert all(n == 1 for n in counter.values()), "each tile is asked for once per call"
    generic = prover.inclusion_proof(index, size, _reader(tree, size))
    assert fast == generic
    assert list(fast) == naive.path(index, list(tree.leaves[:size]))
    plan = inclusion_plan(index, size)
    levels = _levels_reader(tree, size)
    assert assemble(plan, prover.expanded_node_hashes(plan.ids, size, levels)) == fast
    size1 = data.draw(st.integers(1, size))
    cplan = consistency_plan(size1, size)
    got = prover.expanded_node_hashes(cplan.ids, size, levels)
    assert got == prover.node_hashes(cplan.ids, size, _reader(tree, size))
    assert list(assemble(cplan, got)) == naive.proof(size1, list(tree.leaves[:size]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=6), st.data())
def test_shared_cache_across_a_growing_log(steps: list[int], data: st.DataObject) -> None:
    """Tiles cached while the log was smaller never serve a stale or too-short width."""
    tree = _tree(sum(steps))
    cache = TileCache(data.draw(st.integers(1, 8), label="max_tiles"))
    size = 0
    for step in steps:
        size += step
        stored = _levels_reader(tree, size)  # the database: tiles as wide as the log now is

        def read(level: int, index: int, width: int, stored: prover.ReadLevels = stored) -> Any:
            got = cache.get(level, index, width)
            return got if got is not None else cache.put(level, index, stored(level, index, 1)[0])

        for _ in range(3):
            at = data.draw(st.integers(1, size), label="proof size")
            index = data.draw(st.integers(0, at - 1), label="index")
            fast = prover.expanded_inclusion_proof(index, at, read)
            assert list(fast) == tree.inclusion(index, at)
        assert len(cache) <= cache.max_tiles


def test_expanded_rejects_bad_input() -> None:
    read = _levels_reader(_tree(10), 10)
    with pytest.raises(MalformedError, match="index is beyond size: 10 >= 10"):
        prover.expanded_inclusion_proof(10, 10, read)
    with pytest.raises(MalformedError, match="size out of range"):
        prover.expanded_inclusion_proof(0, 1 << 64, read)
    with pytest.raises(MalformedError, match="not complete"):
        prover.expanded_node_hashes([NodeID(2, 2)], 10, read)
    with pytest.raises(NotFoundError):
        prover.expanded_inclusion_proof(3, 11, read)

    def short(level: int, index: int, width: int) -> tuple[bytes, ...]:
        return (b"\x00" * 32,)

    with pytest.raises(MalformedError, match="not in the levels"):
        prover.expanded_inclusion_proof(0, 10, short)
    with pytest.raises(MalformedError, match="less than"):
        prover.expanded_node_hashes([NodeID(0, 3)], 10, short)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 63), st.data())
def test_node_tile_arithmetic(level: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, (((1 << 64) - 1) >> level) - 1))
    size = data.draw(st.integers((index + 1) << level, (1 << 64) - 1))
    got = node_tile(NodeID(level, index), size)
    tile_level, sub = divmod(level, 8)
    want_index = (index << sub) // 256
    want = TileID(tile_level, want_index, tile_width(tile_level, want_index, size))
    assert got == want
    assert (got.level, got.index, got.width) == (want.level, want.index, want.width)

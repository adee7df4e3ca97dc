"""Proofs built from tiles (detente.tlog.prover) against a naive RFC 9162 reference."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logtrees import RefTree, check_consistency_mutations, check_inclusion_mutations

from detente.errors import MalformedError, NotFoundError
from detente.tlog import prover
from detente.tlog.hashing import EMPTY_ROOT
from detente.tlog.proof import NodeID, consistency_plan, inclusion_plan
from detente.tlog.tile import TileID

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
        "ReadTile",
        "consistency_proof",
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

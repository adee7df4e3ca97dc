"""detente.tlog.proof, cross-checked against the naive RFC 9162 reference in naive.py."""

from __future__ import annotations

from collections.abc import Sequence

import naive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import DetenteError, MalformedError, RootMismatchError
from detente.tlog import proof as proof_module
from detente.tlog.proof import (
    NodeID,
    ProofPlan,
    assemble,
    consistency_plan,
    inclusion_plan,
    root_from_consistency,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 2048
STORE = naive.NodeStore([naive.leaf(b"proof test leaf %d" % i) for i in range(MAX_SIZE)])


def fetch(plan: ProofPlan) -> tuple[bytes, ...]:
    """Assemble a plan from the naive node store, as a log would from its storage."""
    return assemble(plan, [STORE.node(n.level, n.index) for n in plan.ids])


def flips(h: bytes) -> list[bytes]:
    """Every single-bit flip of ``h``."""
    return [h[:i] + bytes([h[i] ^ (1 << b)]) + h[i + 1 :] for i in range(len(h)) for b in range(8)]


def inclusion_ok(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(index, size, leaf, proof, root)
    except (MalformedError, RootMismatchError):
        return False
    return True


def consistency_ok(s1: int, s2: int, proof: Sequence[bytes], r1: bytes, r2: bytes) -> bool:
    try:
        verify_consistency(s1, s2, proof, r1, r2)
    except (MalformedError, RootMismatchError):
        return False
    return True


@st.composite
def index_and_size(draw: st.DrawFn, max_size: int = MAX_SIZE) -> tuple[int, int]:
    size = draw(st.integers(1, max_size))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn, max_size: int = MAX_SIZE) -> tuple[int, int]:
    size2 = draw(st.integers(1, max_size))
    return draw(st.integers(1, size2)), size2


# --- proofs equal the reference and verify -------------------------------------------------


@given(index_and_size())
@settings(max_examples=300)
def test_inclusion_plan_gives_the_rfc_path(case: tuple[int, int]) -> None:
    index, size = case
    proof = fetch(inclusion_plan(index, size))
    assert list(proof) == naive.path(index, STORE.leaves[:size])
    root = STORE.root(size)
    assert root_from_inclusion(index, size, STORE.leaves[index], proof) == root
    verify_inclusion(index, size, STORE.leaves[index], proof, root)


@given(two_sizes())
@settings(max_examples=300)
def test_consistency_plan_gives_the_rfc_proof(case: tuple[int, int]) -> None:
    size1, size2 = case
    proof = fetch(consistency_plan(size1, size2))
    assert list(proof) == naive.proof(size1, STORE.leaves[:size2])
    root1, root2 = STORE.root(size1), STORE.root(size2)
    assert root_from_consistency(size1, size2, proof, root1) == root2
    verify_consistency(size1, size2, proof, root1, root2)


def test_every_proof_of_small_trees() -> None:
    for size in range(1, 70):
        leaves = STORE.leaves[:size]
        for index in range(size):
            assert list(fetch(inclusion_plan(index, size))) == naive.path(index, leaves)
        for size1 in range(1, size + 1):
            assert list(fetch(consistency_plan(size1, size))) == naive.proof(size1, leaves)


def test_plan_length_matches_the_proof() -> None:
    plan = inclusion_plan(0, 7)  # the sibling of [0, 4) is the ephemeral node over [4, 7)
    assert plan.ids == (NodeID(0, 1), NodeID(1, 1), NodeID(0, 6), NodeID(1, 2))
    assert (plan.begin, plan.end) == (2, 4)
    assert len(plan) == len(fetch(plan)) == 3
    plan = inclusion_plan(4, 7)  # a one-node right border is not folded
    assert plan.ids == (NodeID(0, 5), NodeID(0, 6), NodeID(2, 0))
    assert plan.begin == plan.end
    assert len(inclusion_plan(0, 8)) == 3


# --- tampering is rejected ------------------------------------------------------------------


@given(index_and_size(max_size=600))
@settings(max_examples=25, deadline=None)
def test_inclusion_rejects_every_bit_flip(case: tuple[int, int]) -> None:
    index, size = case
    leaf, root = STORE.leaves[index], STORE.root(size)
    proof = fetch(inclusion_plan(index, size))
    for i, h in enumerate(proof):
        for bad in flips(h):
            tampered = (*proof[:i], bad, *proof[i + 1 :])
            with pytest.raises(RootMismatchError):
                verify_inclusion(index, size, leaf, tampered, root)
    for bad in flips(root):
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, leaf, proof, bad)
    for bad in flips(leaf):
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, bad, proof, root)
    # Any other index reorders the hashing, so the root changes (leaves are distinct).
    for bit in range(64):
        with pytest.raises((MalformedError, RootMismatchError)):
            verify_inclusion(index ^ (1 << bit), size, leaf, proof, root)
    # The verifier sees the size only through the proof's shape; a size with the same shape
    # computes the same root. That is sound because the root (in a signed checkpoint)
    # commits to the size. So: we accept a flipped size exactly when the RFC's own
    # verification loop does, and the real tree of that size has another root.
    for bit in range(64):
        other = size ^ (1 << bit)
        ours = inclusion_ok(index, other, leaf, proof, root)
        assert ours == naive.verify_inclusion(index, other, leaf, list(proof), root)
        if ours and other <= MAX_SIZE:
            assert STORE.root(other) != root


@given(two_sizes(max_size=600))
@settings(max_examples=25, deadline=None)
def test_consistency_rejects_every_bit_flip(case: tuple[int, int]) -> None:
    size1, size2 = case
    root1, root2 = STORE.root(size1), STORE.root(size2)
    proof = fetch(consistency_plan(size1, size2))
    for i, h in enumerate(proof):
        for bad in flips(h):
            tampered = (*proof[:i], bad, *proof[i + 1 :])
            with pytest.raises(RootMismatchError):
                verify_consistency(size1, size2, tampered, root1, root2)
    for bad in flips(root1):
        with pytest.raises(RootMismatchError):
            verify_consistency(size1, size2, proof, bad, root2)
    for bad in flips(root2):
        with pytest.raises(RootMismatchError):
            verify_consistency(size1, size2, proof, root1, bad)
    # As for inclusion: sizes bind through the roots; we agree with the RFC loop exactly.
    for bit in range(64):
        for s1, s2 in ((size1 ^ (1 << bit), size2), (size1, size2 ^ (1 << bit))):
            ours = consistency_ok(s1, s2, proof, root1, root2)
            assert ours == naive.verify_consistency(s1, s2, list(proof), root1, root2)
            if ours and s1 <= MAX_SIZE and s2 <= MAX_SIZE:
                assert (STORE.root(s1), STORE.root(s2)) != (root1, root2)


def test_size_with_the_same_shape_computes_the_same_root() -> None:
    # Leaf 0 of size 5 and of size 7 both hash three siblings on the same sides: documented
    # behaviour of every RFC 9162 verifier, not a weakness (the root differs per size).
    proof = fetch(inclusion_plan(0, 5))
    root = STORE.root(5)
    verify_inclusion(0, 7, STORE.leaves[0], proof, root)
    assert STORE.root(7) != root


@given(index_and_size(max_size=300), st.data())
@settings(max_examples=50)
def test_wrong_proof_length_is_malformed(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    proof = fetch(inclusion_plan(index, size))
    extra = data.draw(st.sampled_from(["drop", "add"]))
    bad = proof[:-1] if extra == "drop" and proof else (*proof, STORE.leaves[0])
    with pytest.raises(MalformedError, match="wrong inclusion proof length"):
        verify_inclusion(index, size, STORE.leaves[index], bad, STORE.root(size))


# --- preconditions --------------------------------------------------------------------------


def test_index_beyond_size_names_the_numbers() -> None:
    with pytest.raises(MalformedError, match=r"index is beyond size: 9 >= 8"):
        verify_inclusion(9, 8, STORE.leaves[0], [], STORE.root(8))
    with pytest.raises(MalformedError, match=r"index is beyond size: 8 >= 8"):
        inclusion_plan(8, 8)
    with pytest.raises(MalformedError, match=r"0 >= 0"):
        root_from_inclusion(0, 0, STORE.leaves[0], [])


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 5), (0, 1 << 64), (0, -1), ((1 << 64) - 1, 1 << 64)]
)
def test_out_of_range_numbers(index: int, size: int) -> None:
    with pytest.raises(MalformedError):
        root_from_inclusion(index, size, STORE.leaves[0], [])
    with pytest.raises(MalformedError):
        inclusion_plan(index, size)


def test_hash_lengths_are_strict() -> None:
    proof = fetch(inclusion_plan(2, 5))
    leaf, root = STORE.leaves[2], STORE.root(5)
    verify_inclusion(2, 5, leaf, proof, root)
    with pytest.raises(MalformedError, match="leaf hash has 31 bytes"):
        verify_inclusion(2, 5, leaf[:31], proof, root)
    with pytest.raises(MalformedError, match="root has 33 bytes"):
        verify_inclusion(2, 5, leaf, proof, root + b"\x00")
    with pytest.raises(MalformedError, match="proof hash 1 has 0 bytes"):
        verify_inclusion(2, 5, leaf, (proof[0], b"", proof[2]), root)
    cproof = fetch(consistency_plan(3, 5))
    r3 = STORE.root(3)
    with pytest.raises(MalformedError, match="root1 has 12 bytes"):
        verify_consistency(3, 5, cproof, r3[:12], root)
    with pytest.raises(MalformedError, match="root2 has 12 bytes"):
        verify_consistency(3, 5, cproof, r3, root[:12])
    with pytest.raises(MalformedError, match="proof hash 0 has 31 bytes"):
        verify_consistency(3, 5, (cproof[0][:31], *cproof[1:]), r3, root)


def test_consistency_preconditions() -> None:
    r1, r2, r3 = STORE.root(1), STORE.root(2), STORE.root(3)
    # From size 0 is meaningless, even 0 -> 0 (Go's rule; a witness handles 0 itself).
    with pytest.raises(MalformedError, match="size 0"):
        verify_consistency(0, 3, [], naive.EMPTY, r3)
    with pytest.raises(MalformedError, match="size 0"):
        verify_consistency(0, 0, [], naive.EMPTY, naive.EMPTY)
    with pytest.raises(MalformedError, match=r"size1 is beyond size2: 3 > 2"):
        verify_consistency(3, 2, [], r3, r2)
    with pytest.raises(MalformedError, match=r"sizes are equal \(2\) but proof has 1 hashes"):
        verify_consistency(2, 2, [r1], r2, r2)
    verify_consistency(2, 2, [], r2, r2)
    with pytest.raises(RootMismatchError) as info:
        verify_consistency(2, 2, [], r2, r3)
    assert (info.value.expected, info.value.calculated) == (r3, r2)
    with pytest.raises(MalformedError, match="empty consistency proof"):
        verify_consistency(3, 5, [], r3, STORE.root(5))
    with pytest.raises(MalformedError, match="wrong consistency proof length"):
        verify_consistency(2, 5, [], r2, STORE.root(5))


def test_root_mismatch_carries_both_roots() -> None:
    proof = fetch(inclusion_plan(1, 3))
    wrong = naive.leaf(b"wrong")
    with pytest.raises(RootMismatchError) as info:
        verify_inclusion(1, 3, STORE.leaves[1], proof, wrong)
    assert info.value.expected == wrong
    assert info.value.calculated == STORE.root(3)
    assert isinstance(info.value, DetenteError)


def test_consistency_plan_edges() -> None:
    assert consistency_plan(5, 5) == ProofPlan((), 0, 0)
    assert consistency_plan(0, 5) == ProofPlan((), 0, 0)
    with pytest.raises(MalformedError, match=r"6 > 5"):
        consistency_plan(6, 5)
    # size1 a power of two: its root is known to the verifier, so it is not in the proof.
    assert consistency_plan(4, 8).ids == (NodeID(2, 1),)
    assert consistency_plan(6, 8).ids == (NodeID(1, 2), NodeID(1, 3), NodeID(2, 0))


def test_assemble_checks_its_input() -> None:
    plan = inclusion_plan(0, 7)
    hashes = [STORE.node(n.level, n.index) for n in plan.ids]
    with pytest.raises(MalformedError, match="wrong number of hashes"):
        assemble(plan, hashes[:-1])
    with pytest.raises(MalformedError, match="has 3 bytes"):
        assemble(plan, [*hashes[:-1], b"abc"])


@pytest.mark.parametrize(("begin", "end", "n"), [(0, 1, 1), (1, 0, 2), (0, 3, 2), (-1, 1, 2)])
def test_proof_plan_rejects_bad_fold_ranges(begin: int, end: int, n: int) -> None:
    ids = tuple(NodeID(0, i) for i in range(n))
    with pytest.raises(MalformedError):
        ProofPlan(ids, begin, end)


@pytest.mark.parametrize(("level", "index"), [(-1, 0), (64, 0), (0, -1), (0, 1 << 64), (63, 2)])
def test_node_id_range(level: int, index: int) -> None:
    with pytest.raises(MalformedError):
        NodeID(level, index)


def test_node_id_orders_by_level_then_index() -> None:
    assert sorted([NodeID(1, 0), NodeID(0, 5), NodeID(0, 1)]) == [
        NodeID(0, 1),
        NodeID(0, 5),
        NodeID(1, 0),
    ]


def test_public_api() -> None:
    assert sorted(proof_module.__all__) == sorted(
        [
            "NodeID",
            "ProofPlan",
            "assemble",
            "consistency_plan",
            "inclusion_plan",
            "root_from_consistency",
            "root_from_inclusion",
            "verify_consistency",
            "verify_inclusion",
        ]
    )
    public = {
        name
        for name, value in vars(proof_module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == proof_module.__name__
    }
    assert public <= set(proof_module.__all__)


def test_package_reexports_the_pure_core() -> None:
    import detente.tlog as package
    from detente.tlog import checkpoint, compact, cosignature, hashing, note, receipt, tile

    modules = [checkpoint, compact, cosignature, hashing, note, proof_module, receipt, tile]
    assert sorted(package.__all__) == sorted(name for m in modules for name in m.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None

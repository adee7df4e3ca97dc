"""RFC 9162 inclusion and consistency proofs: planned, then assembled, then verified.

Building a proof is two pure steps around the caller's own storage: :func:`inclusion_plan`
or :func:`consistency_plan` lists the perfect-subtree hashes the proof needs, the caller
fetches them (from a database, from tiles, ...), and :func:`assemble` turns them into the
proof. Verification takes plain values (index, sizes, hashes, the proof) and returns the
computed root or raises.

The semantics follow transparency-dev/merkle (``proof.Inclusion``/``Consistency``,
``Nodes.Rehash``, ``VerifyInclusion``/``VerifyConsistency``), with stricter input checks:
every hash, including the expected roots, must be exactly :data:`HASH_SIZE` bytes.

Errors: a broken numeric precondition, a proof of the wrong length or a hash of the wrong
length is :class:`MalformedError`; a well-formed proof that computes another root is
:class:`RootMismatchError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import MalformedError, RootMismatchError
from detente.tlog.hashing import HASH_SIZE

__all__ = [
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

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"
# Copying a hasher already fed the node prefix is cheaper than hashing a concatenation.
_NODE_HASHER = hashlib.sha256(_NODE_PREFIX)
#: Sizes and indices are uint64 on the wire (checkpoints, tiles, Go interoperability).
_MAX_SIZE = 1 << 64


@dataclass(frozen=True, slots=True, order=True)
class NodeID:
    """A perfect subtree covering leaves ``[index << level, (index + 1) << level)``."""

    level: int
    index: int

    def __post_init__(self) -> None:
        if not 0 <= self.level < 64:
            raise MalformedError(f"node level out of range: {self.level} not in [0, 64)")
        if self.index < 0 or self.index << self.level >= _MAX_SIZE:
            raise MalformedError(f"node index out of range: {self.index} at level {self.level}")


_new = object.__new__
_set_level = vars(NodeID)["level"].__set__
_set_index = vars(NodeID)["index"].__set__


def _unchecked_node(level: int, index: int) -> NodeID:
    """A :class:`NodeID` without the range checks, for package code that guarantees them.

    Equal to ``NodeID(level, index)`` in every respect; only the validation is skipped.
    """
    node: NodeID = _new(NodeID)
    _set_level(node, level)
    _set_index(node, index)
    return node


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """The node hashes a proof needs, in fetch order.

    ``ids[begin:end]`` are folded into one proof hash: the ephemeral node on the right border
    of the tree. They are listed right to left (the smallest subtree first), so the fold is
    ``h = node_hash(hashes[i], h)`` for ``i`` from ``begin + 1`` to ``end - 1``.
    ``begin == end`` (both 0) means there is nothing to fold.
    """

    ids: tuple[NodeID, ...]
    begin: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.begin <= self.end <= len(self.ids)) or self.end - self.begin == 1:
            raise MalformedError(
                f"bad fold range [{self.begin}, {self.end}) for a plan of {len(self.ids)} ids"
            )

    def __len__(self) -> int:
        """Number of hashes in the assembled proof."""
        if self.begin == self.end:
            return len(self.ids)
        return len(self.ids) - (self.end - self.begin) + 1


_set_ids = vars(ProofPlan)["ids"].__set__
_set_begin = vars(ProofPlan)["begin"].__set__
_set_end = vars(ProofPlan)["end"].__set__


def _check_size(name: str, value: int) -> None:
    if not 0 <= value < _MAX_SIZE:
        raise MalformedError(f"{name} out of range: {value} not in [0, 2**64)")


def _path(level: int, index: int, size: int, ids: list[NodeID]) -> tuple[int, int]:
    """Append to ``ids`` the siblings on the path from node (level, index) to the root of the
    tree of ``size`` leaves; return the fold range of the ephemeral node (begin == end if none).

    The caller has checked ``(index + 1) << level <= size < 2**64``, so every id is in range.
    """
    node = _unchecked_node
    append = ids.append
    begin = end = 0
    while index != 0 or (1 << level) < size:
        if index & 1:
            append(node(level, index - 1))
        else:
            start = (index + 1) << level
            if start + (1 << level) <= size:
                append(node(level, index + 1))
            elif start < size:
                # Ephemeral right-border sibling: the perfect subtrees of [start, size),
                # smallest (rightmost) first.
                rest = size - start
                first = len(ids)
                for lvl in range(level):
                    if rest >> lvl & 1:
                        append(node(lvl, (size >> lvl) - 1))
                if len(ids) - first > 1:
                    begin, end = first, len(ids)
            # else: no right sibling at this level; the node is promoted unchanged.
        level += 1
        index >>= 1
    return begin, end


def _unchecked_plan(ids: tuple[NodeID, ...], begin: int, end: int) -> ProofPlan:
    """A :class:`ProofPlan` without the fold-range check (``_path`` guarantees it)."""
    plan: ProofPlan = _new(ProofPlan)
    _set_ids(plan, ids)
    _set_begin(plan, begin)
    _set_end(plan, end)
    return plan


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Nodes needed to prove that leaf ``index`` is in the tree of ``size`` leaves."""
    _check_size("size", size)
    if not 0 <= index < size:
        raise MalformedError(f"index is beyond size: {index} >= {size}")
    ids: list[NodeID] = []
    begin, end = _path(0, index, size, ids)
    return _unchecked_plan(tuple(ids), begin, end)


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """Nodes needed to prove that the tree of ``size1`` leaves is a prefix of ``size2``.

    Like the Go library, the plan is empty when ``size1 == size2`` or ``size1 == 0`` (the
    verifier rejects the latter; a witness handles an old size of 0 itself).
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise MalformedError(f"size1 is beyond size2: {size1} > {size2}")
    if size1 == size2 or size1 == 0:
        return ProofPlan((), 0, 0)
    # The last perfect subtree of the old tree, seen as a node of the new one.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    ids: list[NodeID] = []
    if index != 0:
        # Unless size1 is a power of two (the verifier knows that root already), the
        # proof starts with the node itself.
        ids.append(_unchecked_node(level, index))
    begin, end = _path(level, index, size2, ids)
    return _unchecked_plan(tuple(ids), begin, end)


def assemble(plan: ProofPlan, hashes: Sequence[bytes]) -> tuple[bytes, ...]:
    """Turn the hashes of ``plan.ids`` (same order) into the proof, folding the ephemeral node."""
    ids = plan.ids
    if len(hashes) != len(ids):
        raise MalformedError(f"wrong number of hashes: {len(hashes)} != {len(ids)}")
    if not all(len(h) == HASH_SIZE for h in hashes):
        for i, h in enumerate(hashes):
            if len(h) != HASH_SIZE:
                raise MalformedError(f"hash {i} for {ids[i]} has {len(h)} bytes, not {HASH_SIZE}")
    begin, end = plan.begin, plan.end
    if begin == end:
        return tuple(hashes)
    folded = hashes[begin]
    for i in range(begin + 1, end):
        folded = _sha256(_NODE_PREFIX + hashes[i] + folded).digest()
    return (*hashes[:begin], folded, *hashes[end:])


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedError(f"{name} has {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` computes for ``leaf_hash`` at ``index`` in a tree of ``size``."""
    if not 0 <= index < size < _MAX_SIZE:
        if index < 0 or size >= _MAX_SIZE:
            raise MalformedError(f"index or size out of range: {index}, {size}")
        raise MalformedError(f"index is beyond size: {index} >= {size}")
    if len(leaf_hash) != HASH_SIZE:
        _check_hash("leaf hash", leaf_hash)
    # Levels below ``inner`` may have a sibling on either side; above it, the path runs
    # along the right border and every sibling is on the left.
    inner = (index ^ (size - 1)).bit_length()
    want = inner + (index >> inner).bit_count()
    if len(proof) != want:
        raise MalformedError(
            f"wrong inclusion proof length for index {index} in size {size}: {len(proof)} != {want}"
        )
    new = _NODE_HASHER.copy
    h = leaf_hash
    bits = index
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            _check_hash(f"proof hash {i}", p)
        x = new()
        if i >= inner or bits & 1:
            x.update(p)
            x.update(h)
        else:
            x.update(h)
            x.update(p)
        h = x.digest()
        bits >>= 1
    return h


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Return if ``proof`` shows ``leaf_hash`` at ``index`` in the tree ``(size, root)``."""
    if len(root) != HASH_SIZE:
        _check_hash("root", root)
    calculated = root_from_inclusion(index, size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatchError(
            f"inclusion proof for index {index} in size {size} does not match the root",
            expected=root,
            calculated=calculated,
        )


def root_from_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    """Check ``proof`` against the old root ``root1`` and return the new root it computes."""
    _check_size("size1", size1)
    _check_size("size2", size2)
    _check_hash("root1", root1)
    if size1 > size2:
        raise MalformedError(f"size1 is beyond size2: {size1} > {size2}")
    if size1 == 0:
        # The empty tree is a prefix of every tree: such a "proof" proves nothing, and the
        # Go library rejects it too. Callers that accept it (a witness) decide it themselves.
        raise MalformedError(f"consistency proof from size 0 is meaningless (to {size2})")
    if size1 == size2:
        if proof:
            raise MalformedError(f"sizes are equal ({size1}) but proof has {len(proof)} hashes")
        return root1
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            _check_hash(f"proof hash {i}", p)
    # The proof is, after an optional seed, the tail of the inclusion proof of the old
    # tree's last perfect subtree (level ``shift``) inside the new tree.
    shift = (size1 & -size1).bit_length() - 1
    last = size1 - 1
    inner = (last ^ (size2 - 1)).bit_length() - shift
    border = (last >> (inner + shift)).bit_count()
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        if not proof:
            raise MalformedError(f"empty consistency proof from size {size1} to {size2}")
        seed, start = proof[0], 1
    want = start + inner + border
    if len(proof) != want:
        raise MalformedError(
            f"wrong consistency proof length from size {size1} to {size2}: {len(proof)} != {want}"
        )
    new = _NODE_HASHER.copy
    h1 = h2 = seed
    bits = last >> shift
    for i in range(start, want):
        p = proof[i]
        x = new()
        if i - start >= inner or bits & 1:
            # A left sibling: on the path of both trees.
            x.update(p)
            y = x.copy()
            x.update(h1)
            y.update(h2)
            h1 = x.digest()
            h2 = y.digest()
        else:
            # A right sibling: beyond the old tree, so only the new root includes it.
            x.update(h2)
            x.update(p)
            h2 = x.digest()
        bits >>= 1
    if h1 != root1:
        raise RootMismatchError(
            f"consistency proof from size {size1} to {size2} does not match the old root",
            expected=root1,
            calculated=h1,
        )
    return h2


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Return if ``proof`` shows the tree ``(size1, root1)`` is a prefix of ``(size2, root2)``."""
    _check_hash("root2", root2)
    calculated = root_from_consistency(size1, size2, proof, root1)
    if calculated != root2:
        raise RootMismatchError(
            f"consistency proof from size {size1} to {size2} does not match the new root",
            expected=root2,
            calculated=calculated,
        )

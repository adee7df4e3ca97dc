"""A deliberately naive reference of RFC 9162 section 2.1, used only by tests and the vector
script to cross-check ``detente.tlog.proof`` and ``detente.tlog.compact``.

Written straight from the RFC text: recursive MTH (2.1.1), PATH (2.1.3.1) and
PROOF/SUBPROOF (2.1.4.1), and the verification loops of 2.1.3.2 and 2.1.4.2 as the RFC
states them (the ``fn``/``sn`` bit walk), which is a different algorithm from the one in
``detente.tlog.proof``. Inputs are lists of leaf hashes. Slow on purpose; no shortcuts.
"""

from __future__ import annotations

import hashlib

EMPTY = hashlib.sha256(b"").digest()


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY
    if n == 1:
        return leaves[0]
    k = split(n)
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the inclusion proof of leaf m."""
    n = len(leaves)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true): the consistency proof from size m."""
    return subproof(m, leaves, True)


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], b), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def subtree(level: int, index: int, leaves: list[bytes]) -> bytes:
    """Hash of the perfect subtree covering [index << level, (index + 1) << level)."""
    start = index << level
    end = (index + 1) << level
    if end > len(leaves):
        raise KeyError((level, index))
    return mth(leaves[start:end])


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2, literally, with strict 32-byte hash lengths."""
    if index >= size or any(len(h) != 32 for h in [leaf_hash, root, *proof]):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 2.1.4.2, literally, with strict 32-byte hash lengths.

    Size 0 is rejected, as by the Go library and ``detente.tlog.proof``.
    """
    if any(len(h) != 32 for h in [root1, root2, *proof]):
        return False
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: prepend first_hash
        path = [root1, *path]
    if not path:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


class NodeStore:
    """A naive in-memory node store over a fixed list of leaf hashes, with memoised MTH.

    A perfect subtree of a prefix of the leaves is the same subtree of the whole list, so one
    store serves every tree size up to ``len(leaves)``.
    """

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._roots: dict[int, bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree (level, index); KeyError if it runs past the leaves."""
        key = (level, index)
        if key not in self._nodes:
            self._nodes[key] = subtree(level, index, self.leaves)
        return self._nodes[key]

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves."""
        if size not in self._roots:
            self._roots[size] = mth(self.leaves[:size])
        return self._roots[size]

"""An incremental Merkle tree appender that keeps only the peaks of the tree.

The tree ``[0, size)`` is kept as its peaks: the roots of its perfect subtrees, left to right,
one per set bit of ``size`` (largest first). Appending a leaf merges equal-sized peaks, like
a binary counter; the root folds the peaks from the right (RFC 9162 section 2.1.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from detente.errors import MalformedError
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE
from detente.tlog.proof import NodeID, _unchecked_node

__all__ = ["CompactRange"]

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"
_MAX_SIZE = 1 << 64

#: Called with every node that becomes complete: the leaf itself and each merged parent.
Visitor = Callable[[NodeID, bytes], None]


class CompactRange:
    """The tree ``[0, size)`` kept as its peaks (perfect subtree roots, left to right)."""

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if not 0 <= size < _MAX_SIZE:
            raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
        if len(peaks) != size.bit_count():
            raise MalformedError(
                f"a tree of size {size} has {size.bit_count()} peaks, not {len(peaks)}"
            )
        for i, p in enumerate(peaks):
            if len(p) != HASH_SIZE:
                raise MalformedError(f"peak {i} has {len(p)} bytes, not {HASH_SIZE}")
        self._size = size
        self._peaks = [bytes(p) for p in peaks]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, left (largest) to right."""
        return tuple(self._peaks)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, peaks={len(self._peaks)})"

    def append(self, leaf_hash: bytes, visit: Visitor | None = None) -> None:
        """Add one leaf; ``visit`` sees the leaf (level 0) and each parent this completes."""
        self.extend((leaf_hash,), visit)

    def extend(self, leaf_hashes: Iterable[bytes], visit: Visitor | None = None) -> None:
        """Add leaves in order; ``visit`` as for :meth:`append`.

        Each leaf is checked before it is added, so on a bad leaf (or an error raised by
        ``visit``) the range stays valid and keeps the leaves added before it.
        """
        peaks = self._peaks
        size = self._size
        sha = _sha256
        prefix = _NODE_PREFIX
        try:
            for h in leaf_hashes:
                if len(h) != HASH_SIZE:
                    raise MalformedError(f"leaf hash {size} has {len(h)} bytes, not {HASH_SIZE}")
                if size + 1 >= _MAX_SIZE:
                    raise MalformedError(f"tree is full at size {size}")
                if visit is None:
                    n = size
                    while n & 1:
                        h = sha(prefix + peaks.pop() + h).digest()
                        n >>= 1
                    peaks.append(h)
                    size += 1
                else:
                    # size < 2**64 - 1 was checked, so every id is in range.
                    done = [(_unchecked_node(0, size), h)]
                    level = 0
                    n = size
                    while n & 1:
                        h = sha(prefix + peaks.pop() + h).digest()
                        n >>= 1
                        level += 1
                        done.append((_unchecked_node(level, n), h))
                    peaks.append(h)
                    size += 1
                    # The range is whole again before the caller's code runs.
                    self._size = size
                    for node, node_hash in done:
                        visit(node, node_hash)
        finally:
            self._size = size

    def root(self) -> bytes:
        """The tree's root; :data:`EMPTY_ROOT` when empty."""
        peaks = self._peaks
        if not peaks:
            return EMPTY_ROOT
        sha = _sha256
        prefix = _NODE_PREFIX
        h = peaks[-1]
        for i in range(len(peaks) - 2, -1, -1):
            h = sha(prefix + peaks[i] + h).digest()
        return h

    def copy(self) -> CompactRange:
        """An independent copy."""
        other = CompactRange.__new__(CompactRange)
        other._size = self._size
        other._peaks = list(self._peaks)
        return other

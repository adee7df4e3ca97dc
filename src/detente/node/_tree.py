"""A Merkle tree held in memory from its leaf hashes: tiles, roots and proofs computed locally.

The node builds one from the entries it verified when it must write a proof file, so the
proof does not depend on tiles the (dishonest) hub serves.
"""

from __future__ import annotations

from collections.abc import Sequence

from detente.errors import MalformedError, NotFoundError
from detente.tlog import prover
from detente.tlog.compact import CompactRange
from detente.tlog.hashing import node_hash
from detente.tlog.tile import TILE_HEIGHT, TILE_WIDTH, TileID

__all__ = ["LocalTree"]


class LocalTree:
    """The tree of ``leaves`` (leaf hashes, in order)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._levels: list[list[bytes]] = [list(leaves)]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def _level(self, level: int) -> list[bytes]:
        while len(self._levels) <= level:
            below = self._levels[-1]
            self._levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        return self._levels[level]

    def read_tile(self, tile: TileID) -> bytes:
        if tile.level < 0:
            raise MalformedError("a local tree holds hashes, not entries")
        hashes = self._level(tile.level * TILE_HEIGHT)
        start = tile.index * TILE_WIDTH
        if start + tile.width > len(hashes):
            raise NotFoundError(f"tile {tile.path()} is beyond the local tree")
        return b"".join(hashes[start : start + tile.width])

    def root(self, size: int) -> bytes:
        tree = CompactRange()
        tree.extend(self._levels[0][:size])
        return tree.root()

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]:
        return prover.consistency_proof(size1, size2, self.read_tile)

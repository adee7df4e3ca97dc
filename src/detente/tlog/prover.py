"""Build RFC 9162 proofs and roots from c2sp.org/tlog-tiles hash tiles.

Pure: the caller passes ``read_tile``, a callable that returns the bytes of one hash tile
(exactly ``width * 32`` bytes) or raises. The durable store passes one over its database,
the log client one over HTTP. Each call reads every tile it needs once.

The steps are those of :mod:`detente.tlog.proof`: plan which perfect-subtree hashes are
needed, fetch them from the tiles of the tree of ``size`` leaves (:func:`node_hashes`), and
assemble the proof.

With a cache of expanded tiles (:mod:`detente.tlog.tilecache`), :func:`expanded_node_hashes`
is the fetch step instead: ``read_levels`` returns a tile's levels, and every node is a slice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detente.errors import MalformedError
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from detente.tlog.proof import NodeID, assemble, consistency_plan, inclusion_plan
from detente.tlog.tile import TILE_HEIGHT, TILE_WIDTH, TileID, hash_from_tile, node_tile

__all__ = [
    "ReadLevels",
    "ReadTile",
    "consistency_proof",
    "expanded_node_hashes",
    "inclusion_proof",
    "node_hashes",
    "peaks",
    "tree_root",
]

#: Returns the hash tile named by the id, exactly ``width * 32`` bytes, or raises.
ReadTile = Callable[[TileID], bytes]
#: Given (tile level, tile index, width), returns the levels of that hash tile as
#: :func:`detente.tlog.tilecache.expand_tile` makes them, at least ``width`` wide, or raises.
ReadLevels = Callable[[int, int, int], Sequence[bytes]]
_MAX_SIZE = 1 << 64


def node_hashes(ids: Sequence[NodeID], size: int, read_tile: ReadTile) -> list[bytes]:
    """Hashes of the perfect subtrees ``ids`` of the tree of ``size`` leaves.

    Each node is read from the tile that holds it at that tree size (folding within the
    tile for levels that are not a multiple of 8); each tile is read at most once.
    """
    tiles: dict[TileID, bytes] = {}
    hashes = []
    for node in ids:
        tile = node_tile(node, size)
        data = tiles.get(tile)
        if data is None:
            data = read_tile(tile)
            if len(data) != tile.width * HASH_SIZE:
                raise MalformedError(
                    f"tile {tile.path()} has {len(data)} bytes, not {tile.width * HASH_SIZE}"
                )
            tiles[tile] = data
        hashes.append(hash_from_tile(node, tile, data))
    return hashes


def expanded_node_hashes(ids: Sequence[NodeID], size: int, read_levels: ReadLevels) -> list[bytes]:
    """As :func:`node_hashes`, from expanded tiles: each node is sliced, never folded.

    Each tile's levels are asked for at most once, at the tile's width at ``size``.
    """
    if not 0 <= size < _MAX_SIZE:
        raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
    tiles: dict[tuple[int, int], Sequence[bytes]] = {}
    hashes = []
    for node in ids:
        level = node.level
        index = node.index
        if (index + 1) << level > size:
            raise MalformedError(f"node ({level}, {index}) is not complete in a tree of size {size}")
        sub = level & 7
        shift = TILE_HEIGHT - sub
        key = (level >> 3, index >> shift)
        levels = tiles.get(key)
        if levels is None:
            width = min(TILE_WIDTH, (size >> (level - sub)) - (key[1] << TILE_HEIGHT))
            levels = read_levels(key[0], key[1], width)
            if not levels or len(levels[0]) < width * HASH_SIZE:
                have = len(levels[0]) if levels else 0
                raise MalformedError(
                    f"tile {key[0]}/{key[1]} has {have} bytes, less than {width * HASH_SIZE}"
                )
            tiles[key] = levels
        pos = (index - (key[1] << shift)) * HASH_SIZE
        h = levels[sub][pos : pos + HASH_SIZE] if sub < len(levels) else b""
        if len(h) != HASH_SIZE:
            raise MalformedError(f"node ({level}, {index}) is not in the levels of its tile")
        hashes.append(h)
    return hashes


def inclusion_proof(index: int, size: int, read_tile: ReadTile) -> tuple[bytes, ...]:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    plan = inclusion_plan(index, size)
    return assemble(plan, node_hashes(plan.ids, size, read_tile))


def consistency_proof(size1: int, size2: int, read_tile: ReadTile) -> tuple[bytes, ...]:
    """Consistency proof from the tree of ``size1`` leaves to the tree of ``size2``.

    Empty when ``size1 == size2`` or ``size1 == 0`` (see :func:`consistency_plan`).
    """
    plan = consistency_plan(size1, size2)
    return assemble(plan, node_hashes(plan.ids, size2, read_tile))


def peaks(size: int) -> list[NodeID]:
    """The perfect subtrees of the tree of ``size`` leaves, left (largest) to right."""
    if size < 0:
        raise MalformedError(f"size is negative: {size}")
    ids = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            ids.append(NodeID(level, start >> level))
            start += 1 << level
    return ids


def tree_root(size: int, read_tile: ReadTile) -> bytes:
    """Root of the tree of ``size`` leaves: its peaks folded from the right."""
    if size == 0:
        return EMPTY_ROOT
    hashes = node_hashes(peaks(size), size, read_tile)
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root

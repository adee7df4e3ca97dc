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

import hashlib
from collections.abc import Callable, Sequence

from detente.errors import MalformedError
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from detente.tlog.proof import NodeID, assemble, consistency_plan, inclusion_plan
from detente.tlog.tile import TILE_HEIGHT, TILE_WIDTH, TileID, hash_from_tile, node_tile

__all__ = [
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

#: Returns the hash tile named by the id, exactly ``width * 32`` bytes, or raises.
ReadTile = Callable[[TileID], bytes]
#: Given (tile level, tile index, width), returns the levels of that hash tile as
#: :func:`detente.tlog.tilecache.expand_tile` makes them, at least ``width`` wide, or raises.
ReadLevels = Callable[[int, int, int], Sequence[bytes]]
_MAX_SIZE = 1 << 64
_sha256 = hashlib.sha256


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
            raise MalformedError(
                f"node ({level}, {index}) is not complete in a tree of size {size}"
            )
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


def expanded_inclusion_proof(index: int, size: int, read_levels: ReadLevels) -> tuple[bytes, ...]:
    """As :func:`inclusion_proof`, from expanded tiles, in one pass and without node ids.

    The same walk as :func:`detente.tlog.proof.inclusion_plan` followed by
    :func:`expanded_node_hashes` and :func:`detente.tlog.proof.assemble`, fused for the hot
    path of a log serving proofs (the tests hold it equal to that composition).
    """
    if not 0 <= size < _MAX_SIZE:
        raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
    if not 0 <= index < size:
        raise MalformedError(f"index is beyond size: {index} >= {size}")
    tiles: dict[tuple[int, int], Sequence[bytes]] = {}

    def node(level: int, at: int) -> bytes:
        sub = level & 7
        shift = TILE_HEIGHT - sub
        tile = at >> shift
        key = (level >> 3, tile)
        levels = tiles.get(key)
        if levels is None:
            width = min(TILE_WIDTH, (size >> (level - sub)) - (tile << TILE_HEIGHT))
            levels = tiles[key] = read_levels(key[0], tile, width)
        pos = (at - (tile << shift)) * HASH_SIZE
        h = levels[sub][pos : pos + HASH_SIZE] if sub < len(levels) else b""
        if len(h) != HASH_SIZE:
            raise MalformedError(f"node ({level}, {at}) is not in the levels of its tile")
        return h

    sha = _sha256
    proof = []
    level = 0
    # The tile the last sibling came from (most siblings share their tile with the previous).
    tile_level = tile = -1
    levels: Sequence[bytes] = ()
    while index != 0 or (1 << level) < size:
        if index & 1:
            at = index - 1
        else:
            start = (index + 1) << level
            if start + (1 << level) <= size:
                at = index + 1
            else:
                if start < size:
                    # The ephemeral right-border sibling, folded from its perfect subtrees.
                    rest = size - start
                    folded = b""
                    for lvl in range(level):
                        if rest >> lvl & 1:
                            h = node(lvl, (size >> lvl) - 1)
                            folded = sha(b"\x01" + h + folded).digest() if folded else h
                    proof.append(folded)
                # else: no right sibling at this level; the node is promoted unchanged.
                level += 1
                index >>= 1
                continue
        sub = level & 7
        shift = TILE_HEIGHT - sub
        if at >> shift != tile or level >> 3 != tile_level:
            tile_level = level >> 3
            tile = at >> shift
            key = (tile_level, tile)
            cached = tiles.get(key)
            if cached is None:
                width = min(TILE_WIDTH, (size >> (level - sub)) - (tile << TILE_HEIGHT))
                cached = tiles[key] = read_levels(tile_level, tile, width)
            levels = cached
        pos = (at - (tile << shift)) * HASH_SIZE
        h = levels[sub][pos : pos + HASH_SIZE] if sub < len(levels) else b""
        if len(h) != HASH_SIZE:
            raise MalformedError(f"node ({level}, {at}) is not in the levels of its tile")
        proof.append(h)
        level += 1
        index >>= 1
    return tuple(proof)


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

"""A bounded in-memory cache of expanded c2sp.org/tlog-tiles hash tiles.

A hash tile ``(l, n)`` of width ``w`` holds ``w`` hashes at tree level ``8 * l``. Expanded,
it also holds every complete node above them inside the tile: level ``k`` (0..7) holds the
``w >> k`` complete hashes at tree level ``8 * l + k``, as one bytes object. A node whose
level is not a multiple of 8 is then a slice, not a fold of up to 128 hashes.

Tile prefixes never change (a full tile is immutable, a partial one only grows), so a cached
tile of width ``w`` serves every width up to ``w``; a request for a wider tile misses, and the
caller reads and puts the wider tile, which replaces the narrower one. The cache keeps at most
``max_tiles`` tiles, least recently used first out, and is safe to share between threads.

Pure: values in, values out; the caller reads the tiles.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from detente.errors import MalformedError
from detente.tlog.hashing import HASH_SIZE

__all__ = ["DEFAULT_MAX_TILES", "TileCache", "expand_tile"]

#: 4,096 full tiles expanded take about 64 MiB (8 KiB of hashes and 8 KiB of inner nodes each).
DEFAULT_MAX_TILES = 4096
_TILE_HEIGHT = 8
_TILE_WIDTH = 256
_PAIR = 2 * HASH_SIZE
_sha256 = hashlib.sha256


def expand_tile(data: bytes) -> tuple[bytes, ...]:
    """The levels of a hash tile: ``[data, level 1, ...]``, level ``k`` of ``width >> k`` hashes.

    Levels stop at 7 (level 8 is a hash of the tile above) or when a level would be empty.
    """
    width, rest = divmod(len(data), HASH_SIZE)
    if rest or not 1 <= width <= _TILE_WIDTH:
        raise MalformedError(f"a hash tile has 1 to 256 hashes, not {len(data)} bytes")
    sha = _sha256
    levels = [bytes(data)]
    level = levels[0]
    for _ in range(1, _TILE_HEIGHT):
        end = len(level) - _PAIR + 1
        if end <= 0:
            break
        level = b"".join(
            [sha(b"\x01" + level[o : o + _PAIR]).digest() for o in range(0, end, _PAIR)]
        )
        levels.append(level)
    return tuple(levels)


class TileCache:
    """At most ``max_tiles`` expanded hash tiles keyed by (tile level, tile index), LRU."""

    __slots__ = ("_lock", "_max", "_tiles")

    def __init__(self, max_tiles: int = DEFAULT_MAX_TILES) -> None:
        if max_tiles < 1:
            raise ValueError(f"a tile cache holds at least one tile, not {max_tiles}")
        self._max = max_tiles
        self._tiles: OrderedDict[tuple[int, int], tuple[bytes, ...]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def max_tiles(self) -> int:
        return self._max

    def __len__(self) -> int:
        return len(self._tiles)

    def width(self, level: int, index: int) -> int:
        """Width of the cached tile (level, index); 0 when it is not cached. No LRU update."""
        levels = self._tiles.get((level, index))
        return 0 if levels is None else len(levels[0]) // HASH_SIZE

    def get(self, level: int, index: int, width: int) -> tuple[bytes, ...] | None:
        """The levels of tile (level, index) if cached at least ``width`` wide, else None.

        The levels may be wider than ``width``: only their prefixes are the requested tile.
        """
        key = (level, index)
        with self._lock:
            levels = self._tiles.get(key)
            if levels is None or len(levels[0]) < width * HASH_SIZE:
                return None
            self._tiles.move_to_end(key)
            return levels

    def put(self, level: int, index: int, data: bytes) -> tuple[bytes, ...]:
        """Cache the hash tile (level, index) read as ``data``; return the levels now cached.

        A narrower tile never replaces a wider one (it is a prefix of it); the wider one's
        levels are returned then.
        """
        levels = expand_tile(data)
        key = (level, index)
        tiles = self._tiles
        with self._lock:
            old = tiles.get(key)
            if old is not None and len(old[0]) >= len(levels[0]):
                levels = old
            tiles[key] = levels
            tiles.move_to_end(key)
            while len(tiles) > self._max:
                tiles.popitem(last=False)
        return levels

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()

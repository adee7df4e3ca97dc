"""c2sp.org/tlog-tiles arithmetic: tile ids, paths, widths, and entry bundles.

Hash tile ``(l, n)`` of width ``w`` holds, for ``i`` in ``0..w-1``, the hash of the node at
tree level ``8 * l`` with index ``n * 256 + i``: ``MTH(D[(n*256+i) * 256**l : (n*256+i+1) *
256**l])``. A node at level ``L`` lives in tile level ``L // 8``; when ``L % 8 != 0`` its hash
is folded from ``2 ** (L % 8)`` consecutive hashes of that tile. Entry bundles (level
:data:`ENTRIES_LEVEL`) hold the entries themselves, each as a 2-byte big-endian length then
the bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from detente.errors import MalformedError, TooLargeError
from detente.tlog.hashing import HASH_SIZE
from detente.tlog.proof import NodeID

__all__ = [
    "ENTRIES_LEVEL",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileID",
    "encode_index",
    "format_entry_bundle",
    "hash_from_tile",
    "node_tile",
    "parse_entry_bundle",
    "tile_width",
    "tiles_for_size",
]

TILE_HEIGHT = 8
TILE_WIDTH = 256
MAX_ENTRY_SIZE = 65_535
ENTRIES_LEVEL = -1
_MAX_LEVEL = 63
_MAX_SIZE = 1 << 64

# Shape only; canonical form (no "x000/" lead group, width < 256, level <= 63) is then
# checked by rendering the parsed id again and comparing.
_PATH_RE = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/){0,6}[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)
#: Longer than any canonical path ("tile/entries/" + six index groups + ".p/255").
_MAX_PATH_LENGTH = 64
_sha256 = hashlib.sha256


def _tree_level(level: int) -> int:
    """Tree level of the hashes in a tile of ``level`` (entry bundles sit over level 0)."""
    return 0 if level == ENTRIES_LEVEL else TILE_HEIGHT * level


@dataclass(frozen=True, slots=True, order=True)
class TileID:
    """One tile: ``level`` 0..63 for hash tiles or :data:`ENTRIES_LEVEL`, ``width`` 1..256."""

    level: int
    index: int
    width: int

    def __post_init__(self) -> None:
        if not (self.level == ENTRIES_LEVEL or 0 <= self.level <= _MAX_LEVEL):
            raise MalformedError(f"tile level out of range: {self.level}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise MalformedError(f"tile width out of range: {self.width} not in [1, 256]")
        # The tile's first leaf must be a uint64 (the tree size is one).
        if self.index < 0 or (self.index * TILE_WIDTH) << _tree_level(self.level) >= _MAX_SIZE:
            raise MalformedError(f"tile index out of range: {self.index} at level {self.level}")

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for an entry bundle."""
        level = "entries" if self.level == ENTRIES_LEVEL else str(self.level)
        suffix = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"

    @classmethod
    def from_path(cls, path: str) -> TileID:
        """Parse a canonical tile path; anything else is :class:`MalformedError`."""
        m = _PATH_RE.fullmatch(path) if len(path) <= _MAX_PATH_LENGTH else None
        if m is None:
            raise MalformedError(f"not a tile path: {path!r}")
        level_text = m["level"]
        level = ENTRIES_LEVEL if level_text == "entries" else int(level_text)
        index = int(m["index"].replace("x", "").replace("/", ""))
        width = TILE_WIDTH
        if m["width"] is not None:
            width = int(m["width"])
            if width >= TILE_WIDTH:  # a full tile has no ".p/" suffix
                raise MalformedError(f"partial tile width out of range: {width} in {path!r}")
        tile = cls(level, index, width)
        if tile.path() != path:
            raise MalformedError(f"non-canonical tile path: {path!r} (canonical {tile.path()!r})")
        return tile


_new = object.__new__
_set_level = vars(TileID)["level"].__set__
_set_index = vars(TileID)["index"].__set__
_set_width = vars(TileID)["width"].__set__


def _unchecked_tile(level: int, index: int, width: int) -> TileID:
    """A :class:`TileID` without the range checks, for package code that guarantees them."""
    tile: TileID = _new(TileID)
    _set_level(tile, level)
    _set_index(tile, index)
    _set_width(tile, width)
    return tile


def encode_index(n: int) -> str:
    """Tile index in 3-digit groups, all but the last prefixed with ``x``: 1234 -> x001/234."""
    if n < 0:
        raise MalformedError(f"tile index is negative: {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def tile_width(level: int, index: int, size: int) -> int:
    """Width of tile ``(level, index)`` in a tree of ``size`` leaves; 0 if it has no hash yet."""
    if not 0 <= size < _MAX_SIZE:
        raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
    if index < 0:
        raise MalformedError(f"tile index is negative: {index}")
    if not (level == ENTRIES_LEVEL or 0 <= level <= _MAX_LEVEL):
        raise MalformedError(f"tile level out of range: {level}")
    count = (size >> _tree_level(level)) - index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, count))


def tiles_for_size(size: int) -> list[TileID]:
    """The partial hash tiles on the right edge of a tree of ``size``, level 0 upwards.

    Level ``l`` has a partial tile of width ``(size // 256**l) % 256`` when that is not 0;
    every tile to its left is full. Size 70,000 gives ``tile/0/273.p/112``,
    ``tile/1/001.p/17`` and ``tile/2/000.p/1``.
    """
    if not 0 <= size < _MAX_SIZE:
        raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
    tiles = []
    level = 0
    count = size
    while count:
        width = count % TILE_WIDTH
        if width:
            tiles.append(TileID(level, count // TILE_WIDTH, width))
        count //= TILE_WIDTH
        level += 1
    return tiles


def node_tile(node: NodeID, size: int) -> TileID:
    """The hash tile holding ``node`` (or the hashes it folds from), with its width at ``size``."""
    if not 0 <= size < _MAX_SIZE:
        raise MalformedError(f"size out of range: {size} not in [0, 2**64)")
    node_level = node.level
    if (node.index + 1) << node_level > size:
        raise MalformedError(
            f"node ({node_level}, {node.index}) is not complete in a tree of size {size}"
        )
    # The node is complete, so its tile is in range and at least one hash wide.
    level = node_level >> 3
    index = node.index >> (TILE_HEIGHT - (node_level & 7))
    width = (size >> (node_level - (node_level & 7))) - index * TILE_WIDTH
    return _unchecked_tile(level, index, width if width < TILE_WIDTH else TILE_WIDTH)


def hash_from_tile(node: NodeID, tile: TileID, tile_data: bytes) -> bytes:
    """The hash of ``node`` read from ``tile``, folding ``2 ** (level % 8)`` hashes if needed."""
    if tile.level == ENTRIES_LEVEL:
        raise MalformedError("an entry bundle holds no hashes")
    if len(tile_data) != tile.width * HASH_SIZE:
        raise MalformedError(
            f"tile {tile.path()} has {len(tile_data)} bytes, not {tile.width * HASH_SIZE}"
        )
    level, sub = divmod(node.level, TILE_HEIGHT)
    count = 1 << sub
    first = (node.index << sub) - tile.index * TILE_WIDTH
    if level != tile.level or first < 0 or first + count > tile.width:
        raise MalformedError(f"node ({node.level}, {node.index}) is not in tile {tile.path()}")
    data = bytes(tile_data[first * HASH_SIZE : (first + count) * HASH_SIZE])
    sha = _sha256
    pair = 2 * HASH_SIZE
    while len(data) > HASH_SIZE:
        data = b"".join(
            [sha(b"\x01" + data[o : o + pair]).digest() for o in range(0, len(data), pair)]
        )
    return data


def format_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Serialise 1..256 entries as an entry bundle (2-byte big-endian length, then bytes)."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise MalformedError(f"an entry bundle holds 1 to 256 entries, not {len(entries)}")
    parts = []
    for i, e in enumerate(entries):
        if len(e) > MAX_ENTRY_SIZE:
            raise TooLargeError(f"entry {i} has {len(e)} bytes, more than {MAX_ENTRY_SIZE}")
        parts.append(len(e).to_bytes(2, "big"))
        parts.append(e)
    return b"".join(parts)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """Split an entry bundle of exactly ``width`` entries; no bytes may be left over."""
    if not 1 <= width <= TILE_WIDTH:
        raise MalformedError(f"entry bundle width out of range: {width} not in [1, 256]")
    view = memoryview(data)
    entries = []
    pos = 0
    for i in range(width):
        if pos + 2 > len(view):
            raise MalformedError(f"entry bundle ends before entry {i} of {width}")
        n = int.from_bytes(view[pos : pos + 2], "big")
        pos += 2
        if pos + n > len(view):
            raise MalformedError(f"entry {i} needs {n} bytes, {len(view) - pos} left")
        entries.append(bytes(view[pos : pos + n]))
        pos += n
    if pos != len(view):
        raise MalformedError(f"entry bundle has {len(view) - pos} bytes after {width} entries")
    return entries

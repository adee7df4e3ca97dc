"""detente.tlog.tile: c2sp.org/tlog-tiles arithmetic, paths and entry bundles."""

from __future__ import annotations

import json
from pathlib import Path

import naive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError, TooLargeError
from detente.tlog import tile as tile_module
from detente.tlog.proof import NodeID
from detente.tlog.tile import (
    ENTRIES_LEVEL,
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    TileID,
    encode_index,
    format_entry_bundle,
    hash_from_tile,
    node_tile,
    parse_entry_bundle,
    tile_width,
    tiles_for_size,
)

MAX_SIZE = 2048
STORE = naive.NodeStore([naive.leaf(b"tile test leaf %d" % i) for i in range(MAX_SIZE)])


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234, "x001/234"),
     (1234067, "x001/x234/067")],
)  # fmt: skip
def test_encode_index(n: int, text: str) -> None:
    # Examples from c2sp.org/tlog-tiles (as quoted in TLOG.md).
    assert encode_index(n) == text


def test_encode_index_rejects_negative() -> None:
    with pytest.raises(MalformedError, match="negative"):
        encode_index(-1)


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (TileID(0, 1234067, 256), "tile/0/x001/x234/067"),
        (TileID(0, 1234067, 8), "tile/0/x001/x234/067.p/8"),
        (TileID(ENTRIES_LEVEL, 1234067, 256), "tile/entries/x001/x234/067"),
        (TileID(1, 0, 17), "tile/1/000.p/17"),
        (TileID(ENTRIES_LEVEL, 1234, 8), "tile/entries/x001/234.p/8"),
        (TileID(63, 0, 1), "tile/63/000.p/1"),
    ],
)
def test_path_examples(tile: TileID, path: str) -> None:
    assert tile.path() == path
    assert TileID.from_path(path) == tile


def test_c2sp_path_examples(vectors_dir: Path) -> None:
    examples = json.loads((vectors_dir / "c2sp" / "examples.json").read_text())["tile_paths"]
    for path in examples["examples"]:
        assert TileID.from_path(path).path() == path
    assert encode_index(1234067) == examples["index_1234067"]
    assert encode_index(1234) == examples["index_1234"]
    assert encode_index(0) == examples["index_0"]


@st.composite
def tile_ids(draw: st.DrawFn) -> TileID:
    level = draw(st.integers(-1, 63))
    # The tile's first leaf, (index * 256) << (8 * level), must stay below 2**64.
    bits = max(0, 56 - 8 * max(level, 0))
    index = draw(st.integers(0, (1 << bits) - 1))
    return TileID(level, index, draw(st.integers(1, 256)))


@given(tile_ids())
def test_path_round_trip(tile: TileID) -> None:
    assert TileID.from_path(tile.path()) == tile


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile/0/1",  # leading zeros missing
        "tile/0/01",
        "tile/0/0000",
        "tile/0/x1/234",
        "tile/0/001/234",  # x prefix missing
        "tile/0/x001/x234",  # x prefix on the last group
        "tile/0/xx001/234",
        "tile/0/X001/234",
        "tile/0/x000/234",  # a leading zero group is not canonical
        "tile/0/x000/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/007",
        "tile/0/000.p/",
        "tile/0/000.p/1/",
        "tile/0/000.P/1",
        "tile/0/000/",
        "tile/64/000",  # level 64
        "tile/99/000",
        "tile/00/000",
        "tile/01/000",
        "tile/-1/000",
        "tile//000",
        "tile/data/000",
        "tile/Entries/000",
        "/tile/0/000",
        "tile/0/000\n",
        " tile/0/000",
        "tile/0/\uff10\uff10\uff10",  # full-width digits
        "tile/0/\u0661\u0662\u0663",  # Arabic-Indic digits
        "tile/0/+12",
        "tile/0/x072/x057/x594/x037/x927/936",  # 2**56: its first leaf is past 2**64
        "tile/1/x281/x474/x976/x710/656",  # 2**48 at level 1: the same
        "tile/0/x001/x002/x003/x004/x005/x006/x007/000",
        "tile/0/" + "x000/" * 5000 + "001",
    ],
)
def test_non_canonical_paths_are_rejected(path: str) -> None:
    with pytest.raises(MalformedError):
        TileID.from_path(path)


@given(st.text(alphabet="tile/entrsx0123456789.p", max_size=40))
@settings(max_examples=300)
def test_parsing_is_strict(path: str) -> None:
    # Whatever parses is canonical: rendering it again gives the same text.
    try:
        tile = TileID.from_path(path)
    except MalformedError:
        return
    assert tile.path() == path


@pytest.mark.parametrize(
    ("level", "index", "width"), [(-2, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257),
                                  (0, 1 << 56, 1), (1, 1 << 48, 1)]
)  # fmt: skip
def test_tile_id_range(level: int, index: int, width: int) -> None:
    with pytest.raises(MalformedError):
        TileID(level, index, width)


# --- widths ---------------------------------------------------------------------------------


def test_tiles_for_size_70000() -> None:
    # TLOG.md: level 0: 273 full tiles + .p/112; level 1: 1 full + .p/17; level 2: .p/1.
    tiles = tiles_for_size(70_000)
    assert tiles == [TileID(0, 273, 112), TileID(1, 1, 17), TileID(2, 0, 1)]
    assert [t.path() for t in tiles] == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]


def test_tiles_for_size_matches_c2sp_examples(vectors_dir: Path) -> None:
    examples = json.loads((vectors_dir / "c2sp" / "examples.json").read_text())["tile_paths"]
    for key, size in (("size_70000_tiles", 70_000), ("size_256_tiles", 256)):
        partial = {t.level: t for t in tiles_for_size(size)}
        for level_name, want in examples[key].items():
            level = int(level_name.removeprefix("level"))
            # Full tiles are those left of the partial one: its index counts them.
            full = (size >> (8 * level)) // TILE_WIDTH
            assert full == want["full"], (size, level)
            if full:
                assert tile_width(level, full - 1, size) == TILE_WIDTH
            width = partial[level].width if level in partial else 0
            assert width == want["partial_width"], (size, level)


@given(st.integers(0, (1 << 64) - 1))
def test_tiles_for_size_agrees_with_tile_width(size: int) -> None:
    tiles = tiles_for_size(size)
    for tile in tiles:
        assert tile_width(tile.level, tile.index, size) == tile.width < TILE_WIDTH
        assert tile_width(tile.level, tile.index + 1, size) == 0
        if tile.index:
            assert tile_width(tile.level, tile.index - 1, size) == TILE_WIDTH
    assert [t.level for t in tiles] == sorted(t.level for t in tiles)
    # Each level's hash count is width + 256 * index; together they spell size in base 256.
    assert sum(t.width << (8 * t.level) for t in tiles) == size


def test_tile_width_edges() -> None:
    assert tiles_for_size(0) == []
    assert tiles_for_size(256) == [TileID(1, 0, 1)]
    assert tile_width(0, 0, 0) == 0
    assert tile_width(0, 0, 256) == 256
    assert tile_width(ENTRIES_LEVEL, 1, 300) == 44
    assert tile_width(2, 0, 1 << 16) == 1
    for level, index, size in ((64, 0, 1), (0, -1, 1), (0, 0, -1), (0, 0, 1 << 64)):
        with pytest.raises(MalformedError):
            tile_width(level, index, size)
    with pytest.raises(MalformedError):
        tiles_for_size(-1)


# --- hashes from tiles ----------------------------------------------------------------------


def tile_data(tile: TileID) -> bytes:
    level = 8 * tile.level
    return b"".join(STORE.node(level, tile.index * 256 + i) for i in range(tile.width))


@given(st.integers(1, MAX_SIZE))
@settings(max_examples=15, deadline=None)
def test_hash_from_tile_equals_the_naive_node(size: int) -> None:
    cache: dict[TileID, bytes] = {}
    for level in range(size.bit_length()):
        for index in range(size >> level):
            node = NodeID(level, index)
            tile = node_tile(node, size)
            assert tile.width == tile_width(tile.level, tile.index, size)
            if tile not in cache:
                cache[tile] = tile_data(tile)
            assert hash_from_tile(node, tile, cache[tile]) == STORE.node(level, index), node


def test_node_tile_examples() -> None:
    assert node_tile(NodeID(0, 300), 70_000) == TileID(0, 1, 256)
    assert node_tile(NodeID(3, 8191), 70_000) == TileID(0, 255, 256)
    assert node_tile(NodeID(8, 1), 70_000) == TileID(1, 0, 256)
    assert node_tile(NodeID(9, 135), 70_000) == TileID(1, 1, 17)
    assert node_tile(NodeID(16, 0), 70_000) == TileID(2, 0, 1)
    with pytest.raises(MalformedError, match="not complete in a tree of size 70000"):
        node_tile(NodeID(4, 4375), 70_000)


def test_hash_from_tile_checks_its_input() -> None:
    tile = TileID(0, 0, 4)
    data = tile_data(tile)
    assert hash_from_tile(NodeID(2, 0), tile, data) == STORE.node(2, 0)
    with pytest.raises(MalformedError, match="has 96 bytes, not 128"):
        hash_from_tile(NodeID(0, 0), tile, data[:96])
    with pytest.raises(MalformedError, match="not in tile"):
        hash_from_tile(NodeID(0, 4), tile, data)
    with pytest.raises(MalformedError, match="not in tile"):
        hash_from_tile(NodeID(3, 0), tile, data)
    with pytest.raises(MalformedError, match="not in tile"):
        hash_from_tile(NodeID(8, 0), tile, data)
    with pytest.raises(MalformedError, match="entry bundle"):
        hash_from_tile(NodeID(0, 0), TileID(ENTRIES_LEVEL, 0, 4), data)


# --- entry bundles --------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=256))
@settings(max_examples=50)
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    data = format_entry_bundle(entries)
    assert len(data) == sum(2 + len(e) for e in entries)
    assert parse_entry_bundle(data, len(entries)) == entries


def test_entry_size_limit() -> None:
    biggest = b"\xff" * MAX_ENTRY_SIZE
    assert parse_entry_bundle(format_entry_bundle([biggest, b""]), 2) == [biggest, b""]
    with pytest.raises(TooLargeError, match="entry 1 has 65536 bytes"):
        format_entry_bundle([b"", biggest + b"\x00"])


def test_entry_bundle_count_limits() -> None:
    with pytest.raises(MalformedError, match="not 0"):
        format_entry_bundle([])
    with pytest.raises(MalformedError, match="not 257"):
        format_entry_bundle([b""] * 257)


@pytest.mark.parametrize(
    ("data", "width", "message"),
    [
        (b"\x00\x01a\x00\x01b", 1, "3 bytes after 1 entries"),
        (b"\x00\x01a\x00\x01b", 3, "ends before entry 2 of 3"),
        (b"\x00\x05abc", 1, "entry 0 needs 5 bytes, 3 left"),
        (b"\x00", 1, "ends before entry 0"),
        (b"", 1, "ends before entry 0"),
        (b"\x00\x00", 0, "width out of range"),
        (b"\x00\x00" * 257, 257, "width out of range"),
    ],
)
def test_entry_bundle_parse_errors(data: bytes, width: int, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        parse_entry_bundle(data, width)


def test_public_api() -> None:
    assert sorted(tile_module.__all__) == sorted(
        [
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
    )

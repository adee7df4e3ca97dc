"""The cache of expanded hash tiles (detente.tlog.tilecache): levels, prefix rules, bound."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logtrees import RefTree

from detente.errors import MalformedError
from detente.tlog import tilecache
from detente.tlog.tile import TILE_HEIGHT, TileID
from detente.tlog.tilecache import TileCache, expand_tile

_TREE = RefTree([i.to_bytes(4, "big") * (i % 3) for i in range(2 * 256 + 77)])


def _tile(index: int, width: int) -> bytes:
    return _TREE.tile(TileID(0, index, width))


def test_public_api() -> None:
    assert tilecache.__all__ == ["DEFAULT_MAX_TILES", "TileCache", "expand_tile"]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1), st.integers(1, 256))
def test_expanded_levels_are_the_tile_nodes(index: int, width: int) -> None:
    levels = expand_tile(_tile(index, width))
    assert len(levels) == min(TILE_HEIGHT, width.bit_length())
    for k, level in enumerate(levels):
        first = (index * 256) >> k
        assert level == b"".join(_TREE.node(k, first + i) for i in range(width >> k)), k


@pytest.mark.parametrize("size", [0, 31, 33, 257 * 32])
def test_expand_rejects_bad_lengths(size: int) -> None:
    with pytest.raises(MalformedError, match=f"not {size} bytes"):
        expand_tile(b"\x00" * size)


def test_wider_serves_narrower_and_narrower_misses_wider() -> None:
    cache = TileCache(8)
    assert cache.get(0, 0, 1) is None
    narrow = cache.put(0, 0, _tile(0, 100))
    assert cache.width(0, 0) == 100
    assert cache.get(0, 0, 100) is narrow
    assert cache.get(0, 0, 3) is narrow
    assert cache.get(0, 0, 101) is None, "a narrower cached tile must not serve a wider one"
    wide = cache.put(0, 0, _tile(0, 200))
    assert cache.width(0, 0) == 200
    assert cache.get(0, 0, 101) is wide
    # A late reader that saw the narrower tile does not shrink the cached one.
    assert cache.put(0, 0, _tile(0, 50)) is wide
    assert cache.width(0, 0) == 200
    assert len(cache) == 1


def test_lru_bound() -> None:
    cache = TileCache(2)
    assert cache.max_tiles == 2
    cache.put(0, 0, _tile(0, 256))
    cache.put(0, 1, _tile(1, 256))
    assert cache.get(0, 0, 256) is not None  # (0, 0) is now the most recent
    cache.put(0, 2, _tile(2, 77))
    assert len(cache) == 2
    assert cache.width(0, 1) == 0, "the least recently used tile is evicted"
    assert cache.width(0, 0) == 256
    assert cache.width(0, 2) == 77
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="at least one tile"):
        TileCache(0)


def test_default_bound() -> None:
    assert TileCache().max_tiles == tilecache.DEFAULT_MAX_TILES == 4096


def test_concurrent_readers_and_writers() -> None:
    cache = TileCache(3)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(300):
                index = (seed + i) % 3
                width = 1 + (i * 7 + seed) % (77 if index == 2 else 256)
                got = cache.get(0, index, width)
                if got is None:
                    got = cache.put(0, index, _tile(index, width))
                assert len(got[0]) >= width * 32
                assert got[0][: width * 32] == _tile(index, width)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 3

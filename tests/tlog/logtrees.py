"""Test helpers for the durable log: a naive RFC 9162 reference tree and store URLs.

The reference here is deliberately simple and recursive (RFC 9162 sections 2.1.1, 2.1.3.1
and 2.1.4.1 transcribed directly) so that the tile-based prover and the sequencer can be
cross-checked against it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

import pytest
import sqlalchemy as sa

from detente.errors import MalformedError, VerificationError
from detente.tlog import proof
from detente.tlog.hashing import EMPTY_ROOT, leaf_hash, node_hash
from detente.tlog.tile import TILE_HEIGHT, TILE_WIDTH, TileID, tile_width

PG_URL = os.environ.get("DETENTE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class RefTree:
    """A Merkle tree over ``leaves`` computed the slow, obvious way."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.entries = list(entries)
        self.leaves = tuple(leaf_hash(e) for e in entries)
        self._mth = lru_cache(maxsize=None)(self._mth_uncached)

    def _mth_uncached(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaves[start]
        k = _split(n)
        return node_hash(self._mth(start, start + k), self._mth(start + k, end))

    def root(self, size: int) -> bytes:
        return self._mth(0, size)

    def node(self, level: int, index: int) -> bytes:
        return self._mth(index << level, (index + 1) << level)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        def path(m: int, start: int, end: int) -> list[bytes]:
            n = end - start
            if n == 1:
                return []
            k = _split(n)
            if m < k:
                return [*path(m, start, start + k), self._mth(start + k, end)]
            return [*path(m - k, start + k, end), self._mth(start, start + k)]

        return path(index, 0, size)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        def sub(m: int, start: int, end: int, whole: bool) -> list[bytes]:
            n = end - start
            if m == n:
                return [] if whole else [self._mth(start, end)]
            k = _split(n)
            if m <= k:
                return [*sub(m, start, start + k, whole), self._mth(start + k, end)]
            return [*sub(m - k, start + k, end, False), self._mth(start, start + k)]

        return sub(size1, 0, size2, True)

    def tile(self, tile: TileID) -> bytes:
        """Hash tile bytes as c2sp.org/tlog-tiles defines them."""
        level = TILE_HEIGHT * tile.level
        first = tile.index * TILE_WIDTH
        return b"".join(self.node(level, first + i) for i in range(tile.width))

    def reader(self, size: int) -> dict[TileID, bytes]:
        """Every hash tile of the tree of ``size`` leaves, at its width for that size."""
        tiles = {}
        level = 0
        while size >> (TILE_HEIGHT * level):
            index = 0
            while (width := tile_width(level, index, size)) > 0:
                t = TileID(level, index, width)
                tiles[t] = self.tile(t)
                index += 1
            level += 1
        return tiles


def rejected(verify: Callable[..., None], *args: object) -> bool:
    """True when ``verify(*args)`` raises a malformed or verification error."""
    try:
        verify(*args)
    except (MalformedError, VerificationError):
        return True
    return False


def flips(value: bytes) -> Iterator[bytes]:
    """Every single-bit mutation of ``value``."""
    for i in range(len(value) * 8):
        mutated = bytearray(value)
        mutated[i // 8] ^= 1 << (i % 8)
        yield bytes(mutated)


def int_flips(value: int) -> Iterator[int]:
    """Every single-bit mutation of a uint64."""
    for bit in range(64):
        yield value ^ (1 << bit)


def inclusion_shape(index: int, size: int) -> int:
    """What RFC 9162 section 2.1.3.2 reads of the tree size: the inner path length."""
    return (index ^ (size - 1)).bit_length()


def consistency_shape(size1: int, size2: int) -> tuple[int, int, int]:
    """What RFC 9162 section 2.1.4.2 reads of the two sizes (after dropping shared low bits)."""
    shift = (size1 & -size1).bit_length() - 1
    last = (size1 - 1) >> shift
    return shift, last, (last ^ ((size2 - 1) >> shift)).bit_length()


def check_inclusion_mutations(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """The proof verifies and every single-bit mutation of it or its inputs is rejected.

    A mutated size is accepted by any correct verifier exactly when the algorithm reads
    the same path shape from it (RFC 9162 reads the size only through ``index ^ (size - 1)``):
    the size is bound to the root by the signed checkpoint, not by the proof. Those sizes
    must verify; every other one must be rejected.
    """
    proof.verify_inclusion(index, size, leaf, path, root)
    for i, h in enumerate(path):
        for bad in flips(h):
            mutated = [*path[:i], bad, *path[i + 1 :]]
            assert rejected(proof.verify_inclusion, index, size, leaf, mutated, root)
    for bad_root in flips(root):
        assert rejected(proof.verify_inclusion, index, size, leaf, path, bad_root)
    for bad_leaf in flips(leaf):
        assert rejected(proof.verify_inclusion, index, size, bad_leaf, path, root)
    for bad_index in int_flips(index):
        assert rejected(proof.verify_inclusion, bad_index, size, leaf, path, root)
    for bad_size in int_flips(size):
        same = index < bad_size and inclusion_shape(index, bad_size) == inclusion_shape(index, size)
        assert rejected(proof.verify_inclusion, index, bad_size, leaf, path, root) != same, (
            index,
            size,
            bad_size,
        )
    assert rejected(proof.verify_inclusion, index, size, leaf, [*path, root], root)
    if path:
        assert rejected(proof.verify_inclusion, index, size, leaf, path[:-1], root)


def check_consistency_mutations(
    size1: int, size2: int, path: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """As :func:`check_inclusion_mutations`, for a consistency proof."""
    proof.verify_consistency(size1, size2, path, root1, root2)
    for i, h in enumerate(path):
        for bad in flips(h):
            mutated = [*path[:i], bad, *path[i + 1 :]]
            assert rejected(proof.verify_consistency, size1, size2, mutated, root1, root2)
    for bad in flips(root1):
        assert rejected(proof.verify_consistency, size1, size2, path, bad, root2)
    for bad in flips(root2):
        assert rejected(proof.verify_consistency, size1, size2, path, root1, bad)
    shape = consistency_shape(size1, size2)
    for bad1 in int_flips(size1):
        same = 0 < bad1 < size2 and consistency_shape(bad1, size2) == shape
        assert rejected(proof.verify_consistency, bad1, size2, path, root1, root2) != same, (
            size1,
            size2,
            bad1,
        )
    for bad2 in int_flips(size2):
        same = size1 < bad2 < 1 << 64 and consistency_shape(size1, bad2) == shape
        assert rejected(proof.verify_consistency, size1, bad2, path, root1, root2) != same, (
            size1,
            size2,
            bad2,
        )


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards with all it holds.

    An unreachable server skips the test, or fails it when DETENTE_REQUIRE_PG=1 (as in CI).
    """
    base = sa.make_url(PG_URL)
    admin = sa.create_engine(base)
    schema = "detente_test_" + secrets.token_hex(6)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL at DETENTE_TEST_PG ({base.host}:{base.port}) unreachable: {exc}"
        if os.environ.get("DETENTE_REQUIRE_PG") == "1":
            pytest.fail(f"{reason} (DETENTE_REQUIRE_PG=1 requires it)")
        pytest.skip(reason)
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextlib.contextmanager
def store_url(kind: str, directory: os.PathLike[str] | str) -> Iterator[str]:
    """A fresh database URL of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        yield f"sqlite:///{os.fspath(directory)}/log-{secrets.token_hex(4)}.db"
    else:
        with postgres_url() as url:
            yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

"""A verifying client of a c2sp.org/tlog-tiles log: it trusts nothing the server says.

:meth:`LogClient.update` fetches ``/checkpoint``, checks the log's signature, checks that the
new checkpoint is consistent with the last one it trusted (proving it from hash tiles fetched
over HTTP), then checks the witness quorum, and only then keeps it as trusted, written to a
small state file atomically (temporary file, fsync, ``os.replace``).

Two checkpoints the log signed that cannot both be true raise :class:`SplitViewError` with
both complete notes and a proof that :func:`detente.tlog.evidence.check_split_view` accepts
offline. A well-signed checkpoint older than the trusted one but consistent with it is a
stale view, not a fork: :class:`ConflictError`, and the trusted checkpoint stays.

Entries and proofs are built from tiles (:mod:`detente.tlog.prover`); each tile's length is
checked, each entry's leaf hash is checked against the level-0 tile, and each entry's
inclusion is verified against the trusted root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from detente.errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    RootMismatchError,
    SplitViewError,
    TooLargeError,
    VerificationError,
)
from detente.tlog import prover
from detente.tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash
from detente.tlog.note import Verifier
from detente.tlog.proof import verify_consistency, verify_inclusion
from detente.tlog.tile import ENTRIES_LEVEL, TILE_WIDTH, TileID, parse_entry_bundle, tile_width

__all__ = ["DEFAULT_TIMEOUT", "LogClient"]

DEFAULT_TIMEOUT = 10.0
_MAX_CHECKPOINT = 1 << 20
_MAX_BUNDLE = TILE_WIDTH * (2 + 65_535)


class LogClient:
    """Follows one log: its URL, its key, the witnesses and quorum required, a state file."""

    def __init__(
        self,
        base_url: str,
        log: Verifier,
        witnesses: Sequence[Verifier],
        quorum: int,
        state_path: Path | None,
        http: httpx.Client | None = None,
        *,
        origin: str | None = None,
    ) -> None:
        if not 0 <= quorum <= len(witnesses):
            raise MalformedError(f"quorum {quorum} is not between 0 and {len(witnesses)}")
        self.base_url = base_url.rstrip("/")
        self.log = log
        self.witnesses = tuple(witnesses)
        self.quorum = quorum
        self.origin = log.name if origin is None else origin
        self._state_path = state_path
        self._http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._trusted: SignedCheckpoint | None = None
        if state_path is not None and state_path.exists():
            self._trusted = self._open(state_path.read_bytes(), with_quorum=True)

    @property
    def trusted(self) -> SignedCheckpoint | None:
        """The latest checkpoint this client verified (None before the first update)."""
        return self._trusted

    # -- checkpoints ------------------------------------------------------------------------

    def update(self) -> SignedCheckpoint:
        """Fetch, verify and trust the log's current checkpoint (see the module docstring)."""
        return self.observe(self._get("checkpoint", _MAX_CHECKPOINT))

    def observe(self, note: bytes) -> SignedCheckpoint:
        """Verify a checkpoint note obtained anywhere (the log, another member) and trust it.

        The log's signature is checked first and consistency with the trusted checkpoint
        second, so a fork the log signed is caught even if witnesses refused to cosign it.
        """
        logged = self._open(note, with_quorum=False)
        trusted = self._trusted
        if trusted is not None:
            self._check_consistent(trusted, logged)
        verified = self._open(note, with_quorum=True)
        if trusted is None or verified.checkpoint.size >= trusted.checkpoint.size:
            self._persist(verified)
            self._trusted = verified
        return verified

    def _open(self, note: bytes, *, with_quorum: bool) -> SignedCheckpoint:
        if with_quorum:
            return open_checkpoint(note, self.log, self.witnesses, self.quorum, self.origin)
        return open_checkpoint(note, self.log, origin=self.origin)

    def _check_consistent(self, trusted: SignedCheckpoint, new: SignedCheckpoint) -> None:
        t, n = trusted.checkpoint, new.checkpoint
        first, second = trusted.to_bytes(), new.to_bytes()
        if n.size == t.size:
            if n.root != t.root:
                raise SplitViewError(
                    f"the log signed two roots for size {n.size}", first=first, second=second
                )
            return
        older, newer = (t, n) if t.size < n.size else (n, t)
        if older.size == 0:
            if older.root != EMPTY_ROOT:
                raise SplitViewError(
                    "the log signed a size-0 checkpoint with a root other than the empty tree's",
                    first=first,
                    second=second,
                )
        elif n.size > t.size:
            self._prove_extends(older, newer, first, second)
        else:
            try:
                self._prove_extends(older, newer, first, second)
            except SplitViewError:
                raise
            except (NotFoundError, VerificationError) as exc:
                raise ConflictError(
                    f"the log serves size {n.size}, older than the trusted {t.size}, and "
                    f"cannot prove it from the tiles of size {t.size}: {exc}"
                ) from exc
        if n.size < t.size:
            raise ConflictError(
                f"the log serves size {n.size}, older than the trusted size {t.size} (stale)"
            )

    def _prove_extends(
        self, older: Checkpoint, newer: Checkpoint, first: bytes, second: bytes
    ) -> None:
        """Prove ``newer`` extends ``older`` from the tiles of ``newer``'s tree, or raise.

        A failure is a split view only if the served tiles do lead to ``newer.root``: then
        the log committed to a tree whose prefix is not ``older``. Otherwise the server
        merely served tiles that match none of its checkpoints (RootMismatchError).
        """
        proof = prover.consistency_proof(older.size, newer.size, self._read_tile)
        try:
            verify_consistency(older.size, newer.size, proof, older.root, newer.root)
            return
        except RootMismatchError:
            pass
        prefix_root = prover.tree_root(older.size, self._read_tile)
        verify_consistency(older.size, newer.size, proof, prefix_root, newer.root)
        raise SplitViewError(
            f"the log signed size {older.size} and size {newer.size}, which are not consistent",
            first=first,
            second=second,
            proof=(prefix_root, *proof),
        )

    def _persist(self, checkpoint: SignedCheckpoint) -> None:
        path = self._state_path
        if path is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(checkpoint.to_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _require_trusted(self) -> SignedCheckpoint:
        return self._trusted if self._trusted is not None else self.update()

    # -- proofs and entries -----------------------------------------------------------------

    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[bytes, ...]:
        """Inclusion proof of leaf ``index`` in the tree of ``size`` (default: trusted) leaves.

        Built from tiles the server sent: verify it (:meth:`verify_included` does).
        """
        if size is None:
            size = self._require_trusted().checkpoint.size
        return prover.inclusion_proof(index, size, self._read_tile)

    def verify_included(self, entry: bytes, index: int) -> SignedCheckpoint:
        """Verify ``entry`` is leaf ``index`` of the log; return the checkpoint it is under."""
        trusted = self._require_trusted()
        if index >= trusted.checkpoint.size:
            trusted = self.update()
        cp = trusted.checkpoint
        if not 0 <= index < cp.size:
            raise NotFoundError(f"index is beyond the trusted size: {index} >= {cp.size}")
        proof = self.inclusion_proof(index, cp.size)
        verify_inclusion(index, cp.size, leaf_hash(entry), proof, cp.root)
        return trusted

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Entries ``[start, stop)`` from the entry bundles, each verified against the root."""
        cp = self._require_trusted().checkpoint
        if not 0 <= start <= stop:
            raise MalformedError(f"bad entry range: [{start}, {stop})")
        if stop > cp.size:
            raise NotFoundError(f"entries beyond the trusted size: {stop} > {cp.size}")
        tiles: dict[TileID, bytes] = {}

        def read(tile: TileID) -> bytes:
            data = tiles.get(tile)
            if data is None:
                data = tiles[tile] = self._read_tile(tile)
            return data

        out: list[bytes] = []
        for n in range(start // TILE_WIDTH, (stop + TILE_WIDTH - 1) // TILE_WIDTH):
            width = tile_width(0, n, cp.size)
            bundle = self._read_bundle(TileID(ENTRIES_LEVEL, n, width))
            hashes = read(TileID(0, n, width))
            for i in range(max(start, n * TILE_WIDTH), min(stop, n * TILE_WIDTH + width)):
                entry = bundle[i - n * TILE_WIDTH]
                offset = (i - n * TILE_WIDTH) * HASH_SIZE
                expected = hashes[offset : offset + HASH_SIZE]
                if leaf_hash(entry) != expected:
                    raise RootMismatchError(
                        f"entry {i} does not match its level-0 tile hash",
                        expected=expected,
                        calculated=leaf_hash(entry),
                    )
                proof = prover.inclusion_proof(i, cp.size, read)
                verify_inclusion(i, cp.size, expected, proof, cp.root)
                out.append(entry)
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def _get(self, path: str, limit: int) -> bytes:
        response = self._http.get(f"{self.base_url}/{path}")
        if response.status_code == 404:
            raise NotFoundError(f"the log has no {path}")
        response.raise_for_status()
        if len(response.content) > limit:
            raise TooLargeError(f"{path} is {len(response.content)} bytes, over {limit}")
        return response.content

    def _get_tile(self, tile: TileID, limit: int) -> bytes:
        """The tile at ``tile.width``, or the full tile cut to it if the partial is gone."""
        try:
            return self._get(tile.path(), limit)
        except NotFoundError:
            if tile.width == TILE_WIDTH:
                raise
            full = TileID(tile.level, tile.index, TILE_WIDTH)
            return self._get(full.path(), limit)

    def _read_tile(self, tile: TileID) -> bytes:
        data = self._get_tile(tile, TILE_WIDTH * HASH_SIZE)
        if len(data) == TILE_WIDTH * HASH_SIZE and tile.width < TILE_WIDTH:
            data = data[: tile.width * HASH_SIZE]
        if len(data) != tile.width * HASH_SIZE:
            raise MalformedError(
                f"tile {tile.path()} has {len(data)} bytes, not {tile.width * HASH_SIZE}"
            )
        return data

    def _read_bundle(self, tile: TileID) -> list[bytes]:
        data = self._get_tile(tile, _MAX_BUNDLE)
        try:
            return parse_entry_bundle(data, tile.width)
        except MalformedError:
            if tile.width == TILE_WIDTH:
                raise
            return parse_entry_bundle(data, TILE_WIDTH)[: tile.width]

"""Sync the whole log from the hub, verify every byte of it, and catch the hub if it lies.

:meth:`Syncer.sync` does, in order:

1. **Checkpoint.** ``GET {hub}/log/checkpoint``, verified by
   :class:`detente.tlog.client.LogClient` with the log key, witnesses and quorum FROM THE
   GROUP'S GENESIS (the node pins genesis on its first sync: entry 0 must name the log key
   the node was given at init, or is trusted on first use, and its hash is recorded). The
   client is first shown the latest checkpoint the node trusted, so the new one must be
   proven consistent with it from the hub's tiles. Every checkpoint the node trusted before
   is covered: the node's verified tree only ever grows by appending (its compact range is
   stored and extended), and each trusted checkpoint's root was that tree's root.
2. **Gossip.** The checkpoints peers show (``GET {peer}/gossip/checkpoint``,
   :mod:`detente.node.gossip`) and those of receipts the member holds are shown to the same
   client: two checkpoints the log signed that cannot both be true are a split view.
3. **Entries.** The level-0 hash tiles of the new range are fetched and, extended onto the
   node's stored compact range, must give the checkpoint's root; then the entry bundles
   (members only: a bearer token from the hub's challenge login, signed with the party key)
   are fetched and each entry's leaf hash must be its tile hash.
4. **Rules.** Each entry is applied with ``detente.group`` (``genesis`` / ``apply``), judged
   at the checkpoint's witnessed time (the latest witness cosignature; the node's clock when
   the group has no witnesses): signatures, author chains and every group rule.
5. **Receipts.** Each receipt the member holds whose checkpoint is covered must find its
   entry at its index with the same bytes, and its checkpoint's root must be the root of
   the node's verified tree at that size.
6. **Commit.** Entries, the trusted checkpoint, the compact range and the state snapshot are
   stored in one transaction (:meth:`NodeStore.commit_sync`).

Any failed check of something the hub served is a :class:`~detente.node.store.Misbehaviour`:
a proof file (:mod:`detente.node.misbehaviour`) is written to the node's ``misbehaviour/``
directory and recorded, the error is logged at CRITICAL level, the report carries it, and
the node stops trusting the hub: every later :meth:`Syncer.sync` raises ``ConflictError``
until the operator calls :meth:`NodeStore.clear_distrust`. Transport failures, a missing
checkpoint and a checkpoint short of its witness quorum are plain errors (raised; nothing is
stored), not misbehaviour.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gc
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx

from detente.errors import (
    ConflictError,
    DetenteError,
    MalformedError,
    NotFoundError,
    QuorumError,
    SignatureError,
    SplitViewError,
    TooLargeError,
    VerificationError,
)
from detente.group.rules import apply, genesis
from detente.group.state import GroupState
from detente.group.views import signing_keys
from detente.hub.auth import auth_message
from detente.node import misbehaviour as proofs
from detente.node._tree import LocalTree
from detente.node.config import NodeDir
from detente.node.gossip import fetch_peer_checkpoint
from detente.node.store import Misbehaviour, NodeStore, SyncPoint, TrustedCheckpoint
from detente.statements.payload import entry_hash
from detente.statements.verifier import CHECK_WAIT, Check, take_until_done
from detente.statements.verifier import Verifier as SignatureVerifier
from detente.tlog.checkpoint import Checkpoint, SignedCheckpoint
from detente.tlog.client import LogClient
from detente.tlog.compact import CompactRange
from detente.tlog.hashing import HASH_SIZE, leaf_hash
from detente.tlog.note import Note, Verifier, parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt
from detente.tlog.tile import (
    ENTRIES_LEVEL,
    TILE_WIDTH,
    TileID,
    parse_entry_bundle,
    tile_width,
)

__all__ = ["SyncReport", "Syncer"]

_log = logging.getLogger("detente.node")
_MAX_CHECKPOINT = 1 << 20
_MAX_BUNDLE = TILE_WIDTH * (2 + 65_535)
_FETCHERS = 4
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did. ``misbehaviour`` is set when the hub was caught (nothing of this
    sync was stored then); ``hub_digest`` is the digest ``/v1/state`` served for the same
    size (None when it served another size)."""

    start_size: int
    size: int
    checkpoint: bytes | None
    digest: bytes | None
    hub_digest: bytes | None
    elapsed: float
    receipts_confirmed: int = 0
    receipts_pending: int = 0
    peers_checked: int = 0
    misbehaviour: Misbehaviour | None = None

    @property
    def fetched(self) -> int:
        """Entries verified and stored by this sync."""
        return self.size - self.start_size

    @property
    def ok(self) -> bool:
        """No misbehaviour, and the hub's digest (if it served one) equals the node's."""
        return self.misbehaviour is None and (
            self.hub_digest is None or self.hub_digest == self.digest
        )


class _Caught(Exception):
    """The hub failed a check; carries the proof file to keep."""

    def __init__(self, kind: str, description: str, proof: bytes) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description
        self.proof = proof


class Syncer:
    """Syncs ``store`` with the hub of ``node_dir`` over ``http``; ``clock`` gives POSIX time."""

    def __init__(
        self,
        node_dir: NodeDir,
        store: NodeStore,
        http: httpx.Client,
        *,
        clock: Clock = time.time,
    ) -> None:
        self.node_dir = node_dir
        self.store = store
        self._http = http
        self._clock = clock
        self._hub = node_dir.config.hub_url.rstrip("/")
        self._party = node_dir.config.party
        self._key = node_dir.private_key()
        self._token: str | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="detente-node-state")
        # Signatures of each fetched bundle are verified ahead, in worker processes for a
        # full bundle (detente.statements.verifier); apply() finds them in the memo.
        self._signatures = SignatureVerifier(name="detente-node-verify")

    # -- public ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the signature workers and the state thread (a later sync starts them again
        only for the workers; the syncer is not meant to be used after closing)."""
        self._signatures.close()
        self._pool.shutdown(wait=False)

    def __enter__(self) -> Syncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self) -> SyncReport:
        """Fetch, verify, apply and store everything new (see the module docstring)."""
        distrusted = self.store.distrusted()
        if distrusted is not None:
            raise ConflictError(
                f"the node stopped trusting the hub: {distrusted.kind}: "
                f"{distrusted.description} (proof {distrusted.path}); the operator must "
                f"clear it before the node syncs again"
            )
        started = time.perf_counter()
        start_size = self.store.size()
        try:
            with _collector_paused():
                return self._sync(start_size, started)
        except _Caught as caught:
            found = self._record(caught)
            return SyncReport(
                start_size,
                start_size,
                None,
                None,
                None,
                time.perf_counter() - started,
                misbehaviour=found,
            )

    # -- the steps -------------------------------------------------------------------------

    def _check_founding_key(self, state: GroupState) -> None:
        """On first contact: a genesis that lists this node's party must list its key.

        Without a pinned log key the node takes the group's genesis from the hub; a hub that
        founded a look-alike group naming this party with a key the hub holds is refused here
        (it is not this party's group, whatever else it says).
        """
        me = state.parties.get(self.node_dir.config.party)
        if me is not None and me.keys[0].key != self.node_dir.public_key():
            raise ConflictError(
                f"the group this hub serves lists {me.id} with another signing key than this "
                f"node's: it is not your group (or this is not your key); nothing was stored"
            )

    def _sync(self, start_size: int, started: float) -> SyncReport:
        point = self.store.sync_point()
        note = self._get(f"{self._hub}/log/checkpoint", _MAX_CHECKPOINT)
        origin = _origin_of(note)
        state = self.store.state()
        genesis_entry: bytes | None = None
        if state is None:
            genesis_entry = self._entry_zero(origin)
            state = self._found(genesis_entry, note)
            self._check_founding_key(state)
        log_vkey = state.log_vkey
        pinned = point.log_vkey or self.node_dir.config.log_vkey
        if pinned is not None and pinned != log_vkey:
            raise self._bad_answer(
                f"the group's genesis names log key {log_vkey!r}, not the pinned {pinned!r}",
                {"log_vkey": log_vkey},
                genesis_entry,
            )
        log = parse_vkey(log_vkey)
        witnesses = [parse_vkey(w.vkey) for w in state.witnesses]
        genesis_entry = genesis_entry or self.store.read_entries(0, 1)[0]
        client = LogClient(
            f"{self._hub}/log",
            log,
            witnesses,
            state.witness_quorum,
            None,
            self._http,
            origin=state.log_origin,
        )
        latest = self.store.latest_checkpoint()
        if latest is not None:
            client.observe(latest.note)
        signed = self._observe(client, note, genesis_entry, "the hub's checkpoint")
        peers = self._gossip(client, genesis_entry)
        cp = signed.checkpoint
        if cp.size < point.size:  # pragma: no cover - LogClient raised ConflictError
            raise ConflictError(f"the hub serves size {cp.size}, below the node's {point.size}")
        at = self._judged_at(signed)
        # The hub computes its digest while the node verifies (it is another process).
        hub_digest = self._pool.submit(self._hub_digest, signed.checkpoint.size)
        tree = point.tree.copy()
        leaves = self._leaf_hashes(point.size, cp, note, genesis_entry)
        tree.extend(leaves)
        if tree.root() != cp.root:
            raise self._bad_answer(
                f"the hub's level-0 tiles of [{point.size}, {cp.size}) do not lead to the "
                f"root of its checkpoint",
                {"checkpoint": note},
                genesis_entry,
            )
        entries, state = self._apply_all(state, point.size, cp, leaves, note, at, genesis_entry)
        confirmed, pending = self._check_receipts(
            client, point, tree, entries, leaves, note, log, genesis_entry
        )
        checkpoint = TrustedCheckpoint(cp.size, cp.root, note, self._clock())
        digest = state.digest()
        if entries:
            self.store.commit_sync(point.size, entries, tree, checkpoint, state, digest)
        else:
            self.store.add_checkpoint(checkpoint)
        if point.genesis_hash is None:
            self.store.pin(entry_hash(genesis_entry), log_vkey)
        for index in confirmed:
            self.store.confirm_receipt(index, cp.size)
        return SyncReport(
            start_size,
            cp.size,
            note,
            digest,
            hub_digest.result(),
            time.perf_counter() - started,
            receipts_confirmed=len(confirmed),
            receipts_pending=pending,
            peers_checked=peers,
        )

    def _entry_zero(self, origin: str) -> bytes:
        """Entry 0 (the genesis) as the hub serves it; verified against the root later."""
        bundle = self._bundle(TileID(ENTRIES_LEVEL, 0, 1), origin)
        return bundle[0]

    def _found(self, entry: bytes, note: bytes) -> GroupState:
        try:
            return genesis(entry)
        except DetenteError as exc:
            raise self._bad_answer(
                f"entry 0 the hub serves does not found a group: {exc}",
                {"entry": entry, "checkpoint": note},
                None,
            ) from exc

    def _observe(
        self, client: LogClient, note: bytes, genesis_entry: bytes, what: str
    ) -> SignedCheckpoint:
        try:
            return client.observe(note)
        except SplitViewError as exc:
            raise self._split(
                exc, genesis_entry, f"{what} conflicts with one trusted: {exc}"
            ) from exc
        except (SignatureError, MalformedError) as exc:
            raise self._bad_answer(
                f"{what} does not verify: {exc}", {"checkpoint": note}, genesis_entry
            ) from exc
        except QuorumError:
            raise
        except VerificationError as exc:
            raise self._bad_answer(
                f"{what} does not verify: {exc}", {"checkpoint": note}, genesis_entry
            ) from exc

    def _gossip(self, client: LogClient, genesis_entry: bytes) -> int:
        """Show the client every checkpoint peers showed; a conflict is a split view."""
        for peer in self.node_dir.config.peers:
            try:
                note = fetch_peer_checkpoint(self._http, peer)
            except (httpx.HTTPError, DetenteError) as exc:
                _log.warning("peer %s gave no checkpoint: %s", peer, exc)
                continue
            if note is not None:
                self.store.add_peer_checkpoint(peer, _size_of(note), note, self._clock())
        checked = 0
        for peer, note in self.store.peer_checkpoints():
            try:
                client.observe(note)
            except SplitViewError as exc:
                raise self._split(
                    exc, genesis_entry, f"the hub showed peer {peer} another history: {exc}"
                ) from exc
            except ConflictError:
                pass  # the peer is behind: consistent, or the hub has not the tiles any more
            except DetenteError as exc:
                _log.warning("peer %s showed a checkpoint that does not verify: %s", peer, exc)
                continue
            checked += 1
        return checked

    def _judged_at(self, signed: SignedCheckpoint) -> dt.datetime:
        times = [ts for _, ts in signed.cosignatures if ts]
        when = max(times) if times else self._clock()
        return dt.datetime.fromtimestamp(when, dt.UTC)

    def _leaf_hashes(
        self, start: int, cp: Checkpoint, note: bytes, genesis_entry: bytes
    ) -> list[bytes]:
        leaves: list[bytes] = []
        first, stop = start // TILE_WIDTH, (cp.size + TILE_WIDTH - 1) // TILE_WIDTH
        tiles = [TileID(0, n, tile_width(0, n, cp.size)) for n in range(first, stop)]
        with ThreadPoolExecutor(_FETCHERS) as pool:
            for tile, data in zip(tiles, pool.map(self._hash_tile, tiles), strict=True):
                if len(data) != tile.width * HASH_SIZE:
                    raise self._bad_answer(
                        f"tile {tile.path()} has {len(data)} bytes, not {tile.width * HASH_SIZE}",
                        {"tile": data, "checkpoint": note},
                        genesis_entry,
                    )
                base = tile.index * TILE_WIDTH
                for i in range(max(start, base), base + tile.width):
                    offset = (i - base) * HASH_SIZE
                    leaves.append(data[offset : offset + HASH_SIZE])
        return leaves

    def _bundles(self, start: int, size: int, origin: str) -> Iterator[tuple[int, list[bytes]]]:
        """(index of the first entry, entries) per bundle of ``[start, size)``, prefetched."""
        first, stop = start // TILE_WIDTH, (size + TILE_WIDTH - 1) // TILE_WIDTH
        tiles = [TileID(ENTRIES_LEVEL, n, tile_width(0, n, size)) for n in range(first, stop)]
        with ThreadPoolExecutor(_FETCHERS) as pool:
            for tile, bundle in zip(
                tiles, pool.map(lambda t: self._bundle(t, origin), tiles), strict=True
            ):
                base = tile.index * TILE_WIDTH
                skip = max(start - base, 0)
                yield base + skip, bundle[skip:]

    def _ahead(
        self, bundles: Iterator[tuple[int, list[bytes]]], keys: Callable[[], Mapping[str, bytes]]
    ) -> Iterator[tuple[int, list[bytes], list[Check], list[Check]]]:
        """Each bundle with the checks of its signatures, the next bundle's started before
        this one is handed out, so worker processes verify it while this one is applied."""
        current = next(bundles, None)
        checks = [] if current is None else self._signatures.start(current[1], keys())
        while current is not None:
            try:
                following = next(bundles, None)
            except Exception:
                # The next bundle could not be fetched: this one is still applied first, so
                # a refusal in it (which convicts the hub) is not lost to a fetch error.
                yield current[0], current[1], checks, []
                raise
            later = [] if following is None else self._signatures.start(following[1], keys())
            yield current[0], current[1], checks, later
            current, checks = following, later

    def _apply_all(
        self,
        state: GroupState,
        start: int,
        cp: Checkpoint,
        leaves: Sequence[bytes],
        note: bytes,
        at: dt.datetime,
        genesis_entry: bytes,
    ) -> tuple[list[bytes], GroupState]:
        """Fetch, check and apply ``[start, cp.size)``; ``state`` is after ``start`` entries
        (after the genesis when ``start`` is 0: ``genesis_entry`` founded it)."""
        entries: list[bytes] = []
        # Only a rule refusal of an entry the tiles commit to convicts the log; an error in
        # fetching or parsing what the hub serves propagates as it is (the sync fails, and
        # nothing is stored, but nobody is accused on evidence that proves nothing).
        applied = [state]  # the state after the last whole bundle, for the next one's keys
        bundles = self._ahead(
            self._bundles(start, cp.size, cp.origin), lambda: signing_keys(applied[0])
        )
        for first, bundle, checks, later in bundles:
            waits = {check.start: number for number, check in enumerate(checks)}
            for offset, entry in enumerate(bundle):
                number = waits.get(offset)
                if number is not None:
                    # Rather than wait, verify queued chunks (this bundle's or the next's).
                    queued = [*checks[number:], *later]
                    if not take_until_done(checks[number], queued):
                        wait([checks[number].done], timeout=CHECK_WAIT)
                index = first + offset
                expected = leaves[index - start]
                if leaf_hash(entry) != expected:
                    raise self._bad_answer(
                        f"the bytes the hub serves as entry {index} are not the entry its "
                        f"tiles commit to",
                        {
                            "index": index,
                            "entry": entry,
                            "leaf_hash": expected,
                            "checkpoint": note,
                        },
                        genesis_entry,
                    )
                entries.append(entry)
                if not index:
                    if entry != genesis_entry:
                        raise self._bad_answer(
                            "the hub served two different entries 0",
                            {"entry": entry, "other": genesis_entry, "checkpoint": note},
                            genesis_entry,
                        )
                    continue
                try:
                    state = apply(state, entry, at=at)
                except DetenteError as exc:
                    raise self._bad_entry(index, entries, leaves, start, cp, note, at, exc) from exc
            applied[0] = state
        return entries, state

    def _check_receipts(
        self,
        client: LogClient,
        point: SyncPoint,
        tree: CompactRange,
        entries: Sequence[bytes],
        leaves: Sequence[bytes],
        note: bytes,
        log: Verifier,
        genesis_entry: bytes,
    ) -> tuple[list[int], int]:
        start, size = point.size, tree.size
        confirmed: list[int] = []
        pending = 0
        local: LocalTree | None = None
        for held in self.store.receipts(unconfirmed_only=True):
            try:
                receipt = Receipt.from_bytes(held.receipt)
                promised = verify_receipt(receipt, held.entry, log)
            except DetenteError as exc:
                _log.warning("receipt of entry %d does not verify: %s", held.index, exc)
                continue
            s = promised.checkpoint.size
            if s > size:
                pending += 1
                self._observe(client, receipt.checkpoint, genesis_entry, "a receipt's checkpoint")
                continue
            if held.index >= start:
                served_hash = entry_hash(entries[held.index - start])
            else:
                served_hash = entry_hash(self.store.read_entries(held.index, 1)[0])
            if s >= start:
                prefix = _tree_at(start, point.tree, leaves, s)
            else:
                local = local or self._local_tree(start, leaves)
                prefix = local.root(s)
            if prefix == promised.checkpoint.root and served_hash == entry_hash(held.entry):
                confirmed.append(held.index)
                continue
            local = local or self._local_tree(start, leaves)
            proof = (local.root(s), *local.consistency_proof(s, size)) if s < size else ()
            description = (
                f"the hub gave a receipt for entry {held.index} under size {s}, and now serves a "
                f"log of size {size} without it"
            )
            data = proofs.dropped_entry_proof(
                held.receipt,
                held.entry,
                note,
                proof,
                genesis_entry=genesis_entry,
                description=description,
                created=self._now(),
                hub=self._hub,
            )
            raise _Caught("dropped-entry", description, data)
        return confirmed, pending

    # -- proofs ----------------------------------------------------------------------------

    def _local_tree(self, start: int, new_leaves: Sequence[bytes]) -> LocalTree:
        old = [leaf_hash(e) for e in self.store.iter_entries(0, start)]
        return LocalTree([*old, *new_leaves])

    def _bad_entry(
        self,
        bad: int,
        entries: Sequence[bytes],
        leaves: Sequence[bytes],
        start: int,
        cp: Checkpoint,
        note: bytes,
        at: dt.datetime,
        error: DetenteError,
    ) -> _Caught:
        prefix = [*self.store.iter_entries(0, start), *entries[: bad - start + 1]]
        local = self._local_tree(start, leaves)
        count = bad + 1
        proof = local.consistency_proof(count, cp.size) if count < cp.size else ()
        rule = getattr(error, "rule", type(error).__name__)
        description = f"the hub logged entry {bad}, which the group rules refuse ({rule}): {error}"
        data = proofs.bad_entry_proof(
            prefix,
            note,
            proof,
            judged_at=at,
            description=description,
            created=self._now(),
            hub=self._hub,
        )
        return _Caught("bad-entry", description, data)

    def _split(self, error: SplitViewError, genesis_entry: bytes, description: str) -> _Caught:
        data = proofs.split_view_proof(
            error,
            genesis_entry=genesis_entry,
            description=description,
            created=self._now(),
            hub=self._hub,
        )
        return _Caught("split-view", description, data)

    def _bad_answer(
        self, description: str, data: dict[str, bytes | str | int], genesis_entry: bytes | None
    ) -> _Caught:
        proof = proofs.bad_answer_proof(
            data,
            genesis_entry=genesis_entry,
            description=description,
            created=self._now(),
            hub=self._hub,
        )
        return _Caught("bad-answer", description, proof)

    def _record(self, caught: _Caught) -> Misbehaviour:
        created = self._clock()
        stamp = dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.node_dir.proofs_dir / f"{stamp}-{caught.kind}-{secrets.token_hex(3)}.json"
        path.write_bytes(caught.proof)
        found = self.store.add_misbehaviour(
            caught.kind, created, caught.description, str(path), caught.proof
        )
        _log.critical(
            "THE HUB %s MISBEHAVED (%s): %s. The node no longer trusts it. Proof: %s",
            self._hub,
            caught.kind,
            caught.description,
            path,
        )
        return found

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    # -- HTTP ------------------------------------------------------------------------------

    def _get(self, url: str, limit: int, *, auth: bool = False) -> bytes:
        headers = {"Authorization": f"Bearer {self._token}"} if auth and self._token else {}
        response = self._http.get(url, headers=headers)
        if response.status_code == 404:
            raise NotFoundError(f"the hub has no {url}")
        response.raise_for_status()
        if len(response.content) > limit:
            raise TooLargeError(f"{url} is {len(response.content)} bytes, over {limit}")
        return response.content

    def _tile(self, tile: TileID, limit: int, *, auth: bool = False) -> bytes:
        try:
            return self._get(f"{self._hub}/log/{tile.path()}", limit, auth=auth)
        except NotFoundError:
            if tile.width == TILE_WIDTH:
                raise
            full = TileID(tile.level, tile.index, TILE_WIDTH)
            return self._get(f"{self._hub}/log/{full.path()}", limit, auth=auth)

    def _hash_tile(self, tile: TileID) -> bytes:
        data = self._tile(tile, TILE_WIDTH * HASH_SIZE)
        if len(data) == TILE_WIDTH * HASH_SIZE and tile.width < TILE_WIDTH:
            data = data[: tile.width * HASH_SIZE]
        return data

    def _bundle(self, tile: TileID, origin: str) -> list[bytes]:
        if self._token is None:
            self._login(origin)
        try:
            data = self._tile(tile, _MAX_BUNDLE, auth=True)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 401:
                raise
            self._login(origin)
            data = self._tile(tile, _MAX_BUNDLE, auth=True)
        try:
            return parse_entry_bundle(data, tile.width)
        except MalformedError:
            if tile.width == TILE_WIDTH:
                raise
            return parse_entry_bundle(data, TILE_WIDTH)[: tile.width]

    def _login(self, origin: str) -> None:
        answer = self._http.post(f"{self._hub}/v1/auth/challenge", json={"party": self._party})
        answer.raise_for_status()
        nonce = str(answer.json()["nonce"])
        signature = self._key.sign(auth_message(origin, self._party, nonce))
        answer = self._http.post(
            f"{self._hub}/v1/auth/token",
            json={
                "party": self._party,
                "nonce": nonce,
                "signature": base64.b64encode(signature).decode(),
            },
        )
        answer.raise_for_status()
        self._token = str(answer.json()["token"])

    def _hub_digest(self, size: int) -> bytes | None:
        try:
            answer = self._http.get(f"{self._hub}/v1/state")
            answer.raise_for_status()
            body = answer.json()
            if body.get("size") != size:
                return None
            return bytes.fromhex(str(body["digest"]))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            _log.warning("the hub served no state digest: %s", exc)
            return None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection during a sync (undone on exit).

    Applying entries builds the new state out of immutable objects that form no reference
    cycles, so the collector has nothing to find there, but its full passes walk the whole
    state, again and again as it grows (~10-20% of the time of applying a long log). Counted,
    for syncs in several threads: the last one out turns the collector back on if the first
    one in found it on.
    """
    global _paused, _was_enabled
    with _pause_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


_pause_lock = threading.Lock()
_paused = 0
_was_enabled = False


def _tree_at(start: int, tree: CompactRange, leaves: Sequence[bytes], size: int) -> bytes:
    """Root of the tree of ``size`` leaves: ``tree`` (of ``start``) extended with ``leaves``."""
    grown = tree.copy()
    grown.extend(leaves[: size - start])
    return grown.root()


def _origin_of(note: bytes) -> str:
    try:
        return Checkpoint.from_text(Note.from_bytes(note).text).origin
    except MalformedError as exc:
        raise MalformedError(f"the hub's checkpoint does not parse: {exc}") from exc


def _size_of(note: bytes) -> int:
    return Checkpoint.from_text(Note.from_bytes(note).text).size

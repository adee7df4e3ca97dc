"""A dishonest hub: a real HTTP server (FastAPI on loopback) serving crafted logs.

It holds the hub's REAL log key (the test made the hub), so everything it serves is signed
exactly as an honest hub would sign it; what it lies about is WHICH log it serves. Each
:class:`History` is a real log (``LogStore`` + ``Sequencer`` in its own SQLite file, tiles
and checkpoints made by the production code), whose entries the test chooses: the honest
ones, or with a forged signature byte, a dropped entry, an author's statements swapped, a
validly signed statement the rules refuse. A history may ask a real witness to cosign its
checkpoints (the witness refuses one inconsistent with what it cosigned before; the history
then serves the checkpoint signed by the log alone).

The double serves each of its named views at ``/view/{name}``, with the paths of a hub:
``/log/checkpoint``, ``/log/tile/...`` (entry bundles need a bearer token, any will do),
``/v1/auth/challenge`` and ``/v1/auth/token``. The test points each node at a view and may
swap the history behind a view between syncs (``views[name] = ...``), or have a byte of one
entry in a bundle flipped as it is served (``flip_in_bundle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from detente.errors import DetenteError, NotFoundError, QuorumError
from detente.statements.envelope import Envelope, Signature
from detente.tlog.note import Ed25519Signer, parse_vkey
from detente.tlog.receipt import Receipt
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from detente.tlog.tile import (
    ENTRIES_LEVEL,
    TILE_WIDTH,
    TileID,
    format_entry_bundle,
    parse_entry_bundle,
)
from detente.tlog.witnessing import Publisher, WitnessClient


class History:
    """One log the double can serve, written by the production sequencer."""

    def __init__(
        self,
        path: Path,
        signer: Ed25519Signer,
        entries: Sequence[bytes],
        *,
        witness: tuple[str, str] | None = None,  # (vkey, url) of a real witness, quorum 1
        http: httpx.Client | None = None,
    ) -> None:
        self.store = LogStore.open(f"sqlite:///{path}")
        publisher = None
        if witness is not None:
            client = WitnessClient(witness[1], parse_vkey(witness[0]), http or httpx.Client())
            self.publisher: Publisher | None = Publisher(self.store, [client], 1)
            publisher = self.publisher
        else:
            self.publisher = None
        self.sequencer = Sequencer(self.store, signer, signer.name, publisher=publisher)
        self.entries: list[bytes] = []
        self.append(entries)

    def append(self, entries: Sequence[bytes]) -> None:
        self.sequencer.integrate(list(entries))
        self.entries.extend(entries)

    @property
    def published(self) -> bool:
        """Whether the latest checkpoint got its witness cosignature."""
        latest = self.store.latest_checkpoint()
        return latest is not None and latest.published

    def checkpoint(self) -> bytes:
        """The cosigned note when the witness cosigned it, else the log's signed note."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint")
        return latest.cosigned if latest.cosigned is not None else latest.note

    def receipt(self, index: int) -> bytes:
        """A c2sp.org/tlog-proof receipt for ``index`` under the latest checkpoint."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint")
        proof = self.store.inclusion_proof(index, latest.size)
        return Receipt(index=index, proof=proof, checkpoint=self.checkpoint()).to_bytes()

    def close(self) -> None:
        self.store.close()


def forge_signature(entry: bytes) -> bytes:
    """``entry`` with one byte of its (first) signature flipped, still a canonical envelope."""
    envelope = Envelope.from_bytes(entry)
    first = envelope.signatures[0]
    sig = bytearray(first.sig)
    sig[10] ^= 0x01
    signatures = (Signature(first.keyid, bytes(sig)), *envelope.signatures[1:])
    return Envelope(envelope.payload_type, envelope.payload, signatures).to_bytes()


class DishonestHub:
    """The FastAPI app of the double; ``views`` maps a view name to the history it serves."""

    def __init__(self, views: dict[str, History]) -> None:
        self.views = views
        #: (view, index): flip a byte of that entry in the bundles served (not in the tiles).
        self.flip_in_bundle: set[tuple[str, int]] = set()
        #: views whose entry bundles are served cut short (garbled, not forged).
        self.truncate_bundles: set[str] = set()
        #: (view, n): the entry bundle of tile n served cut short.
        self.truncate_tiles: set[tuple[str, int]] = set()
        self.app = self._build()

    def _history(self, name: str) -> History:
        history = self.views.get(name)
        if history is None:
            raise HTTPException(404, f"no view {name}")
        return history

    def _build(self) -> FastAPI:
        app = FastAPI(title="A dishonest hub (test double)")

        @app.get("/view/{name}/log/checkpoint")
        def checkpoint(name: str) -> Response:
            return Response(self._history(name).checkpoint(), media_type="text/plain")

        @app.get("/view/{name}/log/tile/{path:path}")
        def tile(name: str, path: str, request: Request) -> Response:
            history = self._history(name)
            tile_id = TileID.from_path("tile/" + path)
            if tile_id.level == ENTRIES_LEVEL and not request.headers.get(
                "authorization", ""
            ).startswith("Bearer "):
                raise HTTPException(401, "members only")
            try:
                data = history.store.read_tile(tile_id)
            except NotFoundError as exc:
                raise HTTPException(404, str(exc)) from exc
            if tile_id.level == ENTRIES_LEVEL:
                data = self._tamper(name, tile_id, data)
                if name in self.truncate_bundles or (name, tile_id.index) in self.truncate_tiles:
                    data = data[: len(data) // 2]
            return Response(data, media_type="application/octet-stream")

        @app.post("/view/{name}/v1/auth/challenge")
        def challenge(name: str) -> JSONResponse:
            self._history(name)
            return JSONResponse({"nonce": "any-nonce", "expires_at": 0})

        @app.post("/view/{name}/v1/auth/token")
        def token(name: str) -> JSONResponse:
            self._history(name)
            return JSONResponse({"token": "any-token", "token_type": "Bearer"})

        return app

    def _tamper(self, name: str, tile_id: TileID, data: bytes) -> bytes:
        flips = [i for view, i in self.flip_in_bundle if view == name]
        base = tile_id.index * TILE_WIDTH
        hit = [i for i in flips if base <= i < base + tile_id.width]
        if not hit:
            return data
        entries = parse_entry_bundle(data, tile_id.width)
        for index in hit:
            entries[index - base] = forge_signature(entries[index - base])
        return format_entry_bundle(entries)


def try_publish(history: History) -> bool:
    """Ask the witness again; False when it refuses (QuorumError)."""
    if history.publisher is None:
        return True
    try:
        history.publisher.publish()
    except (QuorumError, DetenteError):
        return False
    return history.published


__all__ = ["DishonestHub", "History", "forge_signature", "try_publish"]

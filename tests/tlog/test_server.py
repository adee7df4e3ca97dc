"""The tlog-tiles HTTP server: paths, bodies, content types, caching, problem details."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from logtrees import RefTree

from detente import problem
from detente.errors import ConflictError, QuorumError, StorageError, TooLargeError
from detente.tlog import proof, prover, server
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.hashing import leaf_hash
from detente.tlog.note import Ed25519Signer
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from detente.tlog.tile import TileID, format_entry_bundle

ORIGIN = "example.com/detente-test"
SIGNER = Ed25519Signer.generate(ORIGIN)
ENTRIES = [f"statement {i}".encode() for i in range(600)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    s = LogStore.open(f"sqlite:///{tmp_path}/log.db")
    try:
        yield s
    finally:
        s.close()


class AsgiClient:
    """Synchronous calls into the app through httpx's ASGI transport (no sockets)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def get(self, path: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://log") as c:
                return await c.get(path)

        return asyncio.run(call())


@pytest.fixture
def client(store: LogStore) -> AsgiClient:
    Sequencer(store, SIGNER, ORIGIN).integrate(ENTRIES)
    return AsgiClient(server.create_log_app(store))


def test_public_api() -> None:
    assert server.__all__ == [
        "CHECKPOINT_CACHE",
        "FULL_TILE_CACHE",
        "PARTIAL_TILE_CACHE",
        "create_log_app",
    ]
    assert problem.__all__ == [
        "PROBLEM_MEDIA_TYPE",
        "install_problem_handlers",
        "problem_response",
        "status_for",
    ]


def test_checkpoint(client: AsgiClient) -> None:
    r = client.get("/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    signed = open_checkpoint(r.content, SIGNER.verifier(), origin=ORIGIN)
    assert signed.checkpoint.size == 600
    assert signed.checkpoint.root == RefTree(ENTRIES).root(600)


def test_no_checkpoint_yet(store: LogStore) -> None:
    r = AsgiClient(server.create_log_app(store)).get("/checkpoint")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["type"] == "about:blank"
    assert "no checkpoint" in body["detail"]


def test_full_and_partial_tiles(client: AsgiClient) -> None:
    tree = RefTree(ENTRIES)
    full = client.get("/tile/0/000")
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.content == tree.tile(TileID(0, 0, 256))
    partial = client.get("/tile/0/002.p/88")
    assert partial.status_code == 200
    assert partial.headers["cache-control"] == server.PARTIAL_TILE_CACHE
    assert partial.content == tree.tile(TileID(0, 2, 88))
    assert client.get("/tile/1/000.p/2").content == tree.tile(TileID(1, 0, 2))
    narrower = client.get("/tile/0/000.p/3")
    assert narrower.content == tree.tile(TileID(0, 0, 3))
    bundle = client.get("/tile/entries/001")
    assert bundle.content == format_entry_bundle(ENTRIES[256:512])
    assert bundle.headers["cache-control"] == server.FULL_TILE_CACHE
    assert client.get("/tile/entries/002.p/88").content == format_entry_bundle(ENTRIES[512:])


@pytest.mark.parametrize(
    "path",
    ["/tile/0/002", "/tile/0/002.p/89", "/tile/1/000", "/tile/2/000.p/1", "/tile/entries/003"],
)
def test_unknown_tiles_are_404(client: AsgiClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path",
    [
        "/tile/0/2",
        "/tile/0/x000/002",
        "/tile/0/002.p/0",
        "/tile/0/002.p/256",
        "/tile/0/002.p/088",
        "/tile/64/000",
        "/tile/01/000",
        "/tile/-1/000",
        "/tile/entries/000.p/",
        "/tile/0/000/",
        "/tile/",
    ],
)
def test_malformed_paths_are_400(client: AsgiClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Bad Request"


def test_unknown_route_is_a_problem(client: AsgiClient) -> None:
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TooLargeError("big"), 413),
        (ConflictError("c"), 409),
        (QuorumError("q", needed=2, found=1), 422),
        (StorageError("s"), 503),
    ],
)
def test_status_mapping(error: Exception, status: int) -> None:
    assert problem.status_for(error)[0] == status  # type: ignore[arg-type]


def test_real_server_serves_proofs(store: LogStore) -> None:
    """uvicorn on a random loopback port; proofs built by the prover over HTTP tiles verify."""
    Sequencer(store, SIGNER, ORIGIN).integrate(ENTRIES)
    config = uvicorn.Config(
        server.create_log_app(store), host="127.0.0.1", port=0, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not srv.started:
            if time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.01)
        port = srv.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            signed = open_checkpoint(http.get("/checkpoint").content, SIGNER.verifier())
            size, root = signed.checkpoint.size, signed.checkpoint.root

            def read_tile(tile: TileID) -> bytes:
                r = http.get("/" + tile.path())
                r.raise_for_status()
                return r.content

            assert prover.tree_root(size, read_tile) == root
            path = prover.inclusion_proof(321, size, read_tile)
            proof.verify_inclusion(321, size, leaf_hash(ENTRIES[321]), path, root)
            old = store.checkpoint(size)
            assert old.root == root
    finally:
        srv.should_exit = True
        thread.join(10)

"""The hub's blob router on loopback, in a small app with a stub member check (no group)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException

from detente.hub.blobs import DEFAULT_MAX_BLOB_SIZE, create_blob_router
from detente.problem import install_problem_handlers
from detente.serving import BackgroundServer

TOKEN = "member-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class BlobHub:
    directory: Path
    url: str
    http: httpx.Client

    def stored(self) -> list[Path]:
        """Every stored blob file (not the uploads in progress)."""
        root = self.directory / "blobs"
        return sorted(p for p in root.glob("??/*") if p.is_file())

    def uploads(self) -> list[Path]:
        return sorted((self.directory / "blobs" / "uploads").iterdir())


def stub_authorize(request: Request) -> None:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise HTTPException(401, "a member's bearer token is required")


def blob_app(directory: Path, max_size: int = DEFAULT_MAX_BLOB_SIZE) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(create_blob_router(directory, stub_authorize, max_size=max_size))
    return app


@contextlib.contextmanager
def running_blob_hub(directory: Path, max_size: int = DEFAULT_MAX_BLOB_SIZE) -> Iterator[BlobHub]:
    directory.mkdir(parents=True, exist_ok=True)
    # Made as uvicorn makes its own (`detente hub serve`): with the TCP protocol number,
    # so asyncio sets TCP_NODELAY; with protocol 0 every chunk waits out a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    with (
        BackgroundServer(blob_app(directory, max_size), sock=sock) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as http,
    ):
        yield BlobHub(directory, server.url, http)

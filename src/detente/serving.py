"""Run ASGI apps with uvicorn on loopback, in the foreground or in a background thread.

``BackgroundServer`` is what ``detente log sandbox`` (and later ``detente demo``) use to run
several services in one process, and what integration tests use to get a real HTTP server on
127.0.0.1 with a port the kernel picked.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from detente.errors import DetenteError

__all__ = ["BackgroundServer", "reserve", "serve_forever"]

LOOPBACK = "127.0.0.1"


def serve_forever(app: ASGIApp, host: str = LOOPBACK, port: int = 0) -> None:
    """Serve ``app`` until interrupted (Ctrl-C)."""
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()


def reserve(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A bound listening socket: its port is known (and held) before the app exists.

    Services that must know each other's addresses before they start (a hub URL written into
    a node's settings, a witness URL into a genesis) reserve their sockets first.
    """
    # IPPROTO_TCP explicitly: asyncio turns TCP_NODELAY on only for sockets that say so,
    # and without it every chunk of a streamed upload waits for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class BackgroundServer:
    """``app`` served by uvicorn in a daemon thread; ``url`` is known once started.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        self._sock = sock if sock is not None else reserve(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DetenteError(f"server on {self.url} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

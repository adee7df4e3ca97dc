"""A synchronous httpx transport that calls an ASGI app in process: no sockets.

Starlette's TestClient would do, but it deprecates plain httpx; this is the few lines we
need. Each request runs the app on a fresh event loop.
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return asyncio.run(call())


def asgi_client(app: ASGIApp, base_url: str = "http://testserver") -> httpx.Client:
    """An httpx client whose requests go to ``app``."""
    return httpx.Client(transport=SyncASGITransport(app), base_url=base_url)

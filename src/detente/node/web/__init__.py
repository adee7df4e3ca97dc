"""The member node's web UI for its own people: server-rendered pages behind a login.

``mount_web(app, node)`` adds the pages to the node's FastAPI app (``create_node_app`` does
it) and returns the :class:`WebUI`, whose ``login_link(base_url)`` makes a one-time login
URL. Pages: ``/`` dashboard, ``/incidents/{id}`` thread, ``/verify/{index}`` receipt check,
``/compose/{kind}`` forms (preview, then sign), ``/norms`` catalogue, ``/export`` bundles.
Jinja2 templates and one hand-written stylesheet and script, served from the package: no
build step, nothing from the internet.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detente.node.web.actions import add_actions
from detente.node.web.pages import add_pages
from detente.node.web.ui import HERE, WebNode, WebUI

__all__ = ["WebNode", "WebUI", "mount_web"]


def mount_web(app: FastAPI, node: WebNode) -> WebUI:
    """Serve the web UI of ``node`` from ``app``; the UI object is also ``app.state.web``."""
    ui = WebUI(node)
    router = APIRouter()
    add_actions(router, ui)
    add_pages(router, ui)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(_NoStore)
    app.state.web = ui
    return ui


class _NoStore:
    """``Cache-Control: no-store`` on every answer but the static files: pages and API
    answers can hold opened confidential content, which no browser or proxy may keep."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/static/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)

"""The member node's web UI for its own people: server-rendered pages behind a login.

``mount_web(app, node)`` adds the pages to the node's FastAPI app (``create_node_app`` does
it) and returns the :class:`WebUI`, whose ``login_link(base_url)`` makes a one-time login
URL. Pages: ``/`` dashboard, ``/incidents/{id}`` thread, ``/verify/{index}`` receipt check,
``/compose/{kind}`` forms (preview, then sign), ``/norms`` catalogue, ``/export`` bundles.
Jinja2 templates and one hand-written stylesheet and script, served from the package: no
build step, nothing from the internet.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

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
    app.state.web = ui
    return ui

"""What every page of the web UI shares: the node, the sessions, templates and rendering."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from rich.console import Console

from detente.crypto.age import Identity
from detente.group.state import GroupState
from detente.group.views import sealed_note
from detente.node.blobs import BlobClient
from detente.node.config import NodeDir
from detente.node.speaker import Said, Speaker
from detente.node.web.session import COOKIE, Session, Sessions
from detente.statements.kinds import Body, Pap, Tlp, format_time
from detente.statements.payload import SignedStatement
from detente.transcript.bundle import Bundle, Subject

__all__ = ["HERE", "WebNode", "WebUI", "human_delta", "markup"]

HERE = Path(__file__).parent


class WebNode(Protocol):
    """What the UI needs of a node (``detente.node.instance.Node`` is one)."""

    directory: NodeDir
    store: Any
    speaker: Speaker

    @property
    def party(self) -> str: ...

    @property
    def api_token(self) -> str: ...

    def state(self) -> GroupState: ...

    def now(self) -> dt.datetime: ...

    def say(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp,
        pap: Pap | None,
        recipients: list[str] | None = None,
    ) -> Said: ...

    def draft(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp,
        pap: Pap | None,
        recipients: list[str] | None = None,
    ) -> SignedStatement: ...

    def opened(self, index: int) -> Body | None: ...

    def revealed(self) -> dict[int, Body]: ...

    def identities(self) -> list[Identity]: ...

    def blob_client(self, console: Console | None = None) -> BlobClient: ...

    def sync(self) -> dict[str, Any]: ...

    def entries(self, start: int, end: int) -> list[tuple[int, SignedStatement]]: ...

    def export(self, subject: Subject) -> Bundle: ...


def human_delta(delta: dt.timedelta | None) -> str:
    """``3 h 20 min``, ``2 days 4 h``, ``45 s``; a negative delta reads ``-…``."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def _time(value: dt.datetime | None) -> str:
    return "—" if value is None else format_time(value).replace("T", " ")


class WebUI:
    """The web UI of one node: ``router`` pages, ``sessions`` logins, ``render`` pages.

    ``clock`` (POSIX seconds) times sessions and one-time links; the node's own injected
    clock (``node.now()``) is what deadlines are judged against.
    """

    def __init__(self, node: WebNode, *, clock: Callable[[], float] = time.time) -> None:
        self.node = node
        self.sessions = Sessions(node.api_token, clock)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters["time"] = _time
        env.filters["delta"] = human_delta
        env.filters["sealed_note"] = sealed_note
        env.globals["party"] = node.party
        self.last_sync: dict[str, Any] | None = None  # the last sync the UI ran, for health
        # One signing or syncing request at a time: the speaker's chain and the store's sync
        # are not meant to run twice at once.
        self.lock = threading.Lock()

    def login_link(self, base_url: str) -> str:
        """A one-time login URL (good once, for a day) for the node served at ``base_url``."""
        return f"{base_url.rstrip('/')}/login?once={self.sessions.issue_link_code()}"

    def session(self, request: Request) -> Session | None:
        return self.sessions.find(request.cookies.get(COOKIE))

    @staticmethod
    def to_login(request: Request) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        response = RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return response

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        context.setdefault("now", self.node.now())
        context["csrf"] = None if session is None else session.csrf
        context["logged_in"] = session is not None
        context["path"] = request.url.path
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def markup(text: str) -> Markup:
    """Trusted markup (server-rendered SVG) for a template."""
    return Markup(text)  # noqa: S704 - built from escaped parts in detente.node.web.chart

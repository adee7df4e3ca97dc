"""Who is logged in to a node's web UI: server-side sessions, CSRF tokens, one-time links.

A person logs in with the node's API token (``api.token`` in the node's directory) or with
a one-time login link the operator was shown (``detente demo`` prints one). Either gives a
session: a random id kept server side (the cookie carries only the id, HttpOnly,
SameSite=Strict), with its own CSRF token that every form posts back. Sessions live in
memory: restarting the node logs everybody out, which is the safe default for a UI that
signs statements with the member's key.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COOKIE", "IDLE_SECONDS", "LINK_SECONDS", "Session", "Sessions"]

#: The session cookie's name.
COOKIE = "detente_session"
#: A session unused this long is forgotten.
IDLE_SECONDS = 12 * 3600
#: A one-time login link is good this long after it is issued, and for one use.
LINK_SECONDS = 24 * 3600
_MAX_SESSIONS = 1000


@dataclass
class Session:
    """One logged-in browser: its id (the cookie), its CSRF token, when it was last used."""

    id: str
    csrf: str
    last_seen: float


class Sessions:
    """The sessions of one node's UI; ``token`` is the node's API token, ``clock`` seconds.

    ``clock`` is the real monotonic-ish wall clock of the process, not the node's injected
    group clock: session expiry protects the browser, it says nothing about the log.
    """

    def __init__(self, token: str, clock: Callable[[], float]) -> None:
        if not token:
            # An empty token would let an empty password in.
            raise ValueError("the node's API token is empty")
        self._token = token
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._links: dict[str, float] = {}  # one-time code -> issued at

    def check_token(self, candidate: str) -> bool:
        """True when ``candidate`` is the node's API token (constant time)."""
        return hmac.compare_digest(candidate.strip().encode(), self._token.encode())

    def issue_link_code(self) -> str:
        """A fresh one-time login code (for ``/login?once=<code>``)."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._links[code] = self._clock()
        return code

    def redeem(self, code: str) -> bool:
        """Use a one-time code: True once for a code issued and not expired, then never."""
        with self._lock:
            issued = self._links.pop(code, None)
        return issued is not None and self._clock() - issued <= LINK_SECONDS

    def open(self) -> Session:
        """A new session (after a successful login)."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        """The live session with this id (and mark it used), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = now
        return session

    def close(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    @staticmethod
    def csrf_ok(session: Session, candidate: str | None) -> bool:
        """True when a form's CSRF field is this session's token (constant time)."""
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), session.csrf.encode()
        )

    def _expire(self, now: float) -> None:
        stale = [k for k, s in self._sessions.items() if now - s.last_seen > IDLE_SECONDS]
        for key in stale:
            del self._sessions[key]
        old = [k for k, issued in self._links.items() if now - issued > LINK_SECONDS]
        for key in old:
            del self._links[key]

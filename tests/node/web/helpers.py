"""Logging in to a node's web UI over plain HTTP, for the page tests."""

from __future__ import annotations

import re

import httpx

from detente.demo import Demo


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if found is None:
        raise AssertionError("the page has no CSRF field")
    return found.group(1)


class Browsers:
    """HTTP clients standing for browsers on the demo's node UIs; all closed at the end."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self._open: list[httpx.Client] = []

    def anonymous(self, party: str | None) -> httpx.Client:
        base = "" if party is None else self.demo.node_urls[party]
        client = httpx.Client(base_url=base, timeout=60)
        self._open.append(client)
        return client

    def login(self, party: str) -> httpx.Client:
        """A client with a session on ``party``'s UI (logged in with the API token)."""
        client = self.anonymous(party)
        page = client.get("/login")
        answer = client.post(
            "/login", data={"csrf": csrf_of(page.text), "token": self.demo.node_tokens[party]}
        )
        if answer.status_code != 303:
            raise AssertionError(f"login failed: {answer.status_code}")
        return client

    def close(self) -> None:
        for client in self._open:
            client.close()

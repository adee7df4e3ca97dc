"""Members' nodes show each other the checkpoints they trusted, so a hub cannot fork them.

Each node serves ``GET /gossip/checkpoint``: the latest checkpoint note it trusted, as the
log and witnesses signed it (public, like the hub's own ``/log/checkpoint``: it reveals only a
size and a root). :class:`~detente.node.sync.Syncer` fetches every peer's note at each sync
(:func:`fetch_peer_checkpoint`), keeps it, and shows it to its
:class:`~detente.tlog.client.LogClient` (``observe``): a note the log signed that conflicts
with what the hub showed this node raises ``SplitViewError``, which becomes a ``split-view``
proof file.

:func:`gossip_router` is the route, which the node's API (``detente.node.api``) includes;
a 404 problem detail says the node trusts no checkpoint yet.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import APIRouter
from fastapi.responses import Response

from detente.errors import NotFoundError, TooLargeError
from detente.node.store import NodeStore
from detente.problem import problem_response

__all__ = [
    "GOSSIP_MEDIA_TYPE",
    "GOSSIP_PATH",
    "fetch_peer_checkpoint",
    "gossip_router",
    "store_latest",
]

GOSSIP_PATH = "/gossip/checkpoint"
GOSSIP_MEDIA_TYPE = "text/plain; charset=utf-8"
_MAX_NOTE = 1 << 20


def gossip_router(latest: Callable[[], bytes | None]) -> APIRouter:
    """``GET /gossip/checkpoint``: the note ``latest()`` returns; a 404 problem when None."""
    router = APIRouter()

    @router.get(
        GOSSIP_PATH,
        summary="The latest checkpoint this node trusted (public)",
        response_class=Response,
    )
    def checkpoint() -> Response:
        note = latest()
        if note is None:  # answered here, so the router needs no handler from its app
            return problem_response(404, "Not Found", "this node trusts no checkpoint yet")
        return Response(note, media_type=GOSSIP_MEDIA_TYPE)

    return router


def store_latest(store: NodeStore) -> bytes | None:
    """The latest checkpoint note ``store`` trusted, or None."""
    latest = store.latest_checkpoint()
    return None if latest is None else bytes(latest.note)


def fetch_peer_checkpoint(http: httpx.Client, peer_url: str) -> bytes | None:
    """The note a peer's node shows at ``{peer_url}/gossip/checkpoint`` (None: none yet).

    Not verified here: the caller's ``LogClient.observe`` checks it.
    """
    response = http.get(f"{peer_url.rstrip('/')}{GOSSIP_PATH}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    if len(response.content) > _MAX_NOTE:
        raise TooLargeError(f"peer {peer_url} sent a {len(response.content)}-byte checkpoint")
    if not response.content:
        raise NotFoundError(f"peer {peer_url} sent an empty checkpoint")
    return response.content

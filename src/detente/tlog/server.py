"""Serve a log over HTTP exactly as c2sp.org/tlog-tiles describes.

``GET /checkpoint``                     the latest published checkpoint note
``GET /tile/<L>/<N>[.p/<W>]``           a hash tile
``GET /tile/entries/<N>[.p/<W>]``       an entry bundle

Paths are parsed strictly (:meth:`TileID.from_path`): a malformed path is 400, a tile the log
does not have (yet) at that width is 404, both as RFC 9457 problem details. Full tiles never
change and are cached as immutable; partial tiles and the checkpoint get a short cache.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from detente.errors import NotFoundError
from detente.problem import install_problem_handlers
from detente.tlog.storage import LogStore
from detente.tlog.tile import ENTRIES_LEVEL, TILE_WIDTH, TileID

__all__ = [
    "CHECKPOINT_CACHE",
    "FULL_TILE_CACHE",
    "PARTIAL_TILE_CACHE",
    "create_log_app",
]

CHECKPOINT_CACHE = "no-cache"
FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=10"


def create_log_app(
    store: LogStore, *, authorize_entries: Callable[[Request], object] | None = None
) -> FastAPI:
    """A FastAPI app serving ``store`` as a tiled log (sync handlers run in a thread pool).

    Checkpoints and hash tiles are public: they reveal only hashes. Entry bundles carry the
    entries themselves; when ``authorize_entries`` is given it is called with each entry
    bundle request and must raise (an HTTPException or a DetenteError) to refuse it.
    """
    app = FastAPI(title="Detente transparency log", version="1")
    install_problem_handlers(app)

    @app.get("/checkpoint", response_class=Response)
    def checkpoint() -> Response:
        latest = store.latest_published()
        if latest is None or latest.cosigned is None:
            raise NotFoundError("the log has published no checkpoint yet")
        return Response(
            latest.cosigned,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": CHECKPOINT_CACHE},
        )

    @app.get("/tile/{path:path}", response_class=Response)
    def tile(path: str, request: Request) -> Response:
        tile_id = TileID.from_path("tile/" + path)
        if tile_id.level == ENTRIES_LEVEL and authorize_entries is not None:
            authorize_entries(request)
        data = store.read_tile(tile_id)
        cache = FULL_TILE_CACHE if tile_id.width == TILE_WIDTH else PARTIAL_TILE_CACHE
        return Response(
            data, media_type="application/octet-stream", headers={"Cache-Control": cache}
        )

    return app

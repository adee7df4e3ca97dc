"""The witness service: ``POST /add-checkpoint`` of c2sp.org/tlog-witness.

The decision is :func:`detente.witness.policy.decide`; this module reads the body, asks the
state store, commits the new state with a compare-and-swap BEFORE replying, cosigns with the
time from the ``clock`` it is given, and maps errors to the statuses of the specification.
Errors other than 409 are RFC 9457 problem details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from detente.errors import ConflictError, DetenteError
from detente.problem import install_problem_handlers, problem_response, status_for
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Verifier
from detente.witness.config import load
from detente.witness.policy import AddCheckpointRequest, decide
from detente.witness.state import WitnessStateStore

__all__ = ["MAX_REQUEST_SIZE", "SIZE_CONTENT_TYPE", "create_witness_app", "witness_app_from_dir"]

#: Content type of a 409 answer, whose body is the latest cosigned size and a newline.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: A request is a size line, at most 63 hashes and a checkpoint: 64 KiB is ample.
MAX_REQUEST_SIZE = 64 * 1024


def create_witness_app(
    signer: CosignatureSigner,
    logs: Mapping[str, Verifier],
    state: WitnessStateStore,
    clock: Callable[[], int],
) -> FastAPI:
    """A witness cosigning with ``signer`` for ``logs`` ({origin: log verifier}).

    ``clock`` returns the POSIX time in seconds stamped into each cosignature.
    """
    app = FastAPI(title="Detente witness", description="c2sp.org/tlog-witness")
    install_problem_handlers(app)
    trusted = dict(logs)

    def add(body: bytes) -> Response:
        try:
            request = AddCheckpointRequest.from_bytes(body)
            origin = request.checkpoint.origin
            stored = state.get(origin)
            try:
                new = decide(request, trusted, stored)
                state.compare_and_swap(origin, stored, new)
            except ConflictError:
                # Re-read: a concurrent winner may have moved the state since `stored`.
                current = state.get(origin)
                size = 0 if current is None else current.size
                # Exactly this type, without the charset Starlette adds to text/* types.
                headers = {"Content-Type": SIZE_CONTENT_TYPE}
                return Response(f"{size}\n", status_code=409, headers=headers)
        except DetenteError as exc:
            return _problem(exc)
        cosignature = signer.cosign(request.note.text.encode("utf-8"), clock())
        return Response(cosignature.line(), status_code=200, media_type="text/plain")

    @app.post("/add-checkpoint", summary="Submit a checkpoint and a consistency proof")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_SIZE:
                return problem_response(
                    413, "Request too large", f"body exceeds {MAX_REQUEST_SIZE} bytes"
                )
        return await run_in_threadpool(add, bytes(body))

    return app


def witness_app_from_dir(directory: Path, clock: Callable[[], int]) -> FastAPI:
    """The witness app of a directory made by :func:`detente.witness.config.init`."""
    config = load(directory)
    store = WitnessStateStore(config.state_path)
    return create_witness_app(config.signer, config.logs, store, clock)


def _problem(exc: DetenteError) -> Response:
    status, title = status_for(exc)
    return problem_response(status, title, str(exc))

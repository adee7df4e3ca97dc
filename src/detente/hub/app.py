"""The hub's HTTP API (FastAPI): statements, receipts, entries, views, login; the log at /log.

Endpoints (OpenAPI at ``/openapi.json``)::

    POST /v1/statements[?wait=receipt]        one envelope (its canonical bytes)
    POST /v1/statements/batch[?wait=receipt]  a JSON array of envelopes: ALL OR NOTHING
    GET  /v1/receipts/{index}                 c2sp.org/tlog-proof, once published (else 404)
    GET  /v1/state                            group, size, state digest (public)
    POST /v1/auth/challenge, /v1/auth/token   member login (see detente.hub.auth)
    GET  /v1/entries?start=&end=              log entries (members)
    GET  /v1/parties, /v1/agreements, /v1/incidents, /v1/incidents/{id}   views (members)
    GET  /log/checkpoint, /log/tile/...       the log, c2sp.org/tlog-tiles (public)

Statements need no token: their signatures are their authentication. A batch is refused as
a whole when any one statement in it is refused; the problem detail names its ``position``
(from 0) and nothing of the batch is stored.

Every error is an RFC 9457 problem detail (``application/problem+json``). Refused
statements carry the extension member ``rule`` (a stable code): ``malformed`` 400,
``too-large`` 413, ``bad-signature`` and ``revoked-key`` 403, ``replay`` and ``fork`` 409,
any other rule of the group 422, and ``blob-missing`` 422 for a sealed statement whose
ciphertext the hub does not hold (``detente.hub.sealing``); a log that cannot commit 503.
Missing or bad tokens 401, unsupported content types 415.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from detente.errors import (
    DetenteError,
    MalformedError,
    NotFoundError,
    RejectedError,
    SignatureError,
    TooLargeError,
)
from detente.hub import views
from detente.hub.auth import Grant
from detente.hub.blobs import create_blob_router
from detente.hub.instance import Hub, tuned_gc
from detente.hub.service import BatchRefusedError
from detente.problem import PROBLEM_MEDIA_TYPE, install_problem_handlers, status_for
from detente.statements.envelope import MAX_ENTRY_SIZE, PAYLOAD_TYPE, split_canonical_array
from detente.tlog.server import create_log_app

__all__ = [
    "RECEIPT_MEDIA_TYPE",
    "STATEMENT_MEDIA_TYPES",
    "Member",
    "WaitQuery",
    "create_hub_app",
    "problem_for",
]

_log = logging.getLogger(__name__)
STATEMENT_MEDIA_TYPES = (PAYLOAD_TYPE, "application/json")
RECEIPT_MEDIA_TYPE = "text/plain; charset=utf-8"
_RULE_STATUS = {"bad-signature": 403, "revoked-key": 403, "replay": 409, "fork": 409}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}


def problem_for(error: DetenteError) -> tuple[int, dict[str, Any]]:
    """Status and problem-detail members for an error (with ``rule`` for a refusal)."""
    extra: dict[str, Any] = {}
    cause = error
    if isinstance(error, BatchRefusedError):
        extra["position"] = error.position
        cause = error.cause
    if isinstance(cause, RejectedError):
        status = _RULE_STATUS.get(cause.rule, 422)
        extra["rule"] = cause.rule
    else:
        status, _ = status_for(cause)
        if isinstance(cause, TooLargeError):
            extra["rule"] = "too-large"
        elif isinstance(cause, MalformedError):
            extra["rule"] = "malformed"
        elif isinstance(cause, SignatureError):
            extra["rule"] = "bad-signature"
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": str(error),
        **extra,
    }
    return status, body


def _problem(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _detente_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, DetenteError):  # pragma: no cover - registered for DetenteError
        raise exc
    return _problem(*problem_for(exc))


async def _internal_error(_request: Request, exc: Exception) -> Response:
    # A bug, not a refusal: nothing was queued (apply raises before anything is enqueued).
    _log.error("internal error", exc_info=exc)
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": f"internal error: {type(exc).__name__}",
    }
    return _problem(500, body)


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLargeError(f"the body has {length} bytes, more than {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLargeError(f"the body has more than {limit} bytes")
    return bytes(body)


def _media_type(request: Request, allowed: tuple[str, ...]) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in allowed:
        raise HTTPException(415, f"Content-Type must be one of {', '.join(allowed)}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise MalformedError(f"duplicate keys in an object: {sorted(keys)}")
    return dict(pairs)


def _batch_entries(body: bytes, limit: int) -> list[bytes]:
    """The canonical bytes of each envelope of a batch (the envelope parser checks them).

    A batch of envelopes in their canonical layout, without whitespace (what clients send),
    is split as it is; any other body is decoded and each element re-encoded canonically:
    the same list either way.
    """
    entries = split_canonical_array(body)
    if entries is None:
        return _reencoded_entries(body, limit)
    _check_count(len(entries), limit)
    return entries


def _check_count(count: int, limit: int) -> None:
    if count > limit:
        raise TooLargeError(f"the batch has {count} statements, more than {limit}")


def _reencoded_entries(body: bytes, limit: int) -> list[bytes]:
    try:
        items = json.loads(body, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise MalformedError(f"the batch is not valid JSON: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise MalformedError("a batch is a non-empty JSON array of envelopes")
    _check_count(len(items), limit)
    entries = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise BatchRefusedError(position, MalformedError("an envelope is a JSON object"))
        entries.append(
            json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
    return entries


class _Challenge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party: Annotated[str, Field(min_length=1, max_length=64)]


class _TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party: Annotated[str, Field(min_length=1, max_length=64)]
    nonce: Annotated[str, Field(min_length=1, max_length=128)]
    signature: Annotated[str, Field(description="base64 Ed25519 signature of the login message")]


_STATEMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "object", "description": "a DSSE v1 envelope"}}
            for media in STATEMENT_MEDIA_TYPES
        },
    }
}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}, "minItems": 1}
            }
        },
    }
}


def _member(request: Request) -> Grant:
    """The caller's grant, from its bearer token (401 without a valid one)."""
    return _grant(request.app.state.hub, request)


def _grant(hub: Hub, request: Request) -> Grant:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="detente-hub"'}
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a member's bearer token is required", challenge)
    try:
        return hub.auth.check(hub.service.state, token.strip())
    except SignatureError as exc:
        raise HTTPException(401, str(exc), challenge) from exc


Member = Annotated[Grant, Depends(_member)]
WaitQuery = Annotated[
    str | None,
    Query(description="'receipt': answer once a published checkpoint covers the entry"),
]


def create_hub_app(hub: Hub, *, warm: bool = False) -> FastAPI:
    """The hub's FastAPI app; its shutdown commits what is queued and stores a snapshot.

    While it runs, the garbage collector is tuned for the group state
    (:func:`detente.hub.instance.tuned_gc`). With ``warm`` (``detente hub serve``) the
    signature workers start with the app rather than on the first large request.
    """
    service = hub.service
    settings = hub.directory.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if warm:
            service.warm()
        with tuned_gc():
            yield
            await service.close()

    app = FastAPI(
        title="Detente hub",
        version="1",
        description=__doc__,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_exception_handler(DetenteError, _detente_error)
    app.add_exception_handler(Exception, _internal_error)
    # Checkpoints and hash tiles are public; entry bundles are group content: members only.
    app.mount(
        "/log", create_log_app(hub.store, authorize_entries=lambda request: _grant(hub, request))
    )
    app.state.hub = hub
    # Encrypted evidence blobs: ciphertext only, members only.
    app.include_router(create_blob_router(hub.directory.path, lambda request: _grant(hub, request)))

    async def receipts(indices: list[int], wait: str | None) -> dict[str, Any] | None:
        if wait is None:
            return None
        if wait != "receipt":
            raise MalformedError(f"wait must be 'receipt', not {wait!r}")
        receipt = await service.wait_receipt(indices[-1], settings.receipt_wait)
        if receipt is None:
            return None
        # One published checkpoint covers every index of the request.
        found = [receipt if i == indices[-1] else service.receipt(i) for i in indices]
        return {"receipts": [r.to_bytes().decode() for r in found]}

    def accepted(indices: list[int], extra: dict[str, Any] | None, wait: bool) -> Response:
        status = 202 if wait and extra is None else 201
        return JSONResponse(
            {"indices": indices, **(extra or {})},
            status_code=status,
            headers={"Location": f"/v1/receipts/{indices[-1]}"},
        )

    @app.post(
        "/v1/statements",
        summary="Submit one signed statement",
        description="The body is the envelope's canonical bytes. 201 {index} once durable; "
        "with ?wait=receipt also {receipt} (c2sp.org/tlog-proof text), or 202 {index} "
        "when no published checkpoint covers it in time (poll /v1/receipts/{index}).",
        openapi_extra=_STATEMENT_BODY,
        status_code=201,
    )
    async def submit(request: Request, wait: WaitQuery = None) -> Response:
        _media_type(request, STATEMENT_MEDIA_TYPES)
        entry = await _body(request, MAX_ENTRY_SIZE)
        [index] = await service.submit([entry])
        extra = await receipts([index], wait)
        body: dict[str, Any] = {"index": index}
        if extra is not None:
            body["receipt"] = extra["receipts"][0]
        status = 202 if wait is not None and extra is None else 201
        return JSONResponse(body, status_code=status, headers={"Location": f"/v1/receipts/{index}"})

    @app.post(
        "/v1/statements/batch",
        summary="Submit a batch of statements, all or nothing",
        description="A JSON array of envelopes. If any statement is refused the whole batch "
        "is refused and nothing is stored; the problem detail's `position` names it. "
        "201 {indices} once durable; with ?wait=receipt also {receipts}.",
        openapi_extra=_BATCH_BODY,
        status_code=201,
    )
    async def submit_batch(request: Request, wait: WaitQuery = None) -> Response:
        _media_type(request, ("application/json",))
        entries = _batch_entries(await _body(request, settings.max_batch_body), settings.max_batch)
        indices = await service.submit(entries, batch=True)
        return accepted(indices, await receipts(indices, wait), wait is not None)

    @app.get(
        "/v1/receipts/{index}",
        summary="The receipt of an entry (c2sp.org/tlog-proof)",
        description="404 until a published (cosigned) checkpoint covers the entry.",
        response_class=Response,
    )
    def receipt(index: int) -> Response:
        data = service.receipt(index).to_bytes()
        return Response(data, media_type=RECEIPT_MEDIA_TYPE)

    @app.get("/v1/state", summary="The group's name, log size and state digest")
    def state() -> dict[str, Any]:
        return views.state_json(service.state)

    @app.post("/v1/auth/challenge", summary="Start a member login: a nonce to sign")
    def challenge(body: _Challenge) -> dict[str, Any]:
        nonce, expires = hub.auth.challenge(service.state, body.party)
        return {"nonce": nonce, "expires_at": expires}

    @app.post("/v1/auth/token", summary="Finish a member login: a short-lived bearer token")
    def token(body: _TokenRequest) -> dict[str, Any]:
        try:
            signature = base64.b64decode(body.signature, validate=True)
        except binascii.Error as exc:
            raise MalformedError("the signature is not base64") from exc
        grant = hub.auth.token(service.state, body.party, body.nonce, signature)
        return {
            "token": grant.token,
            "token_type": "Bearer",
            "party": grant.party,
            "expires_at": grant.expires_at,
        }

    @app.get("/v1/entries", summary="Log entries [start, end) as base64 (members)")
    def entries(
        _member: Member,
        start: Annotated[int, Query(ge=0)],
        end: Annotated[int, Query(ge=0)],
    ) -> dict[str, Any]:
        if end <= start or end - start > settings.max_entries:
            raise MalformedError(
                f"bad range [{start}, {end}): end must be above start, by at most "
                f"{settings.max_entries}"
            )
        log_state = hub.store.state()
        size = 0 if log_state is None else log_state.size
        if end > size:
            raise NotFoundError(f"the log has {size} entries, fewer than {end}")
        data = hub.store.read_entries(start, end - start)
        return {"start": start, "entries": [base64.b64encode(e).decode() for e in data]}

    @app.get("/v1/parties", summary="Every party, its keys and points of contact (members)")
    def parties(_member: Member) -> list[dict[str, Any]]:
        return views.parties_json(service.state)

    @app.get("/v1/agreements", summary="Every agreement and its status (members)")
    def agreements(_member: Member) -> list[dict[str, Any]]:
        return views.agreements_json(service.state)

    def now() -> dt.datetime:
        return dt.datetime.fromtimestamp(hub.clock(), dt.UTC)

    @app.get("/v1/incidents", summary="Every incident with its deadlines (members)")
    def incidents(_member: Member) -> list[dict[str, Any]]:
        return views.incidents_json(service.state, now())

    @app.get("/v1/incidents/{incident_id}", summary="One incident with its thread (members)")
    def incident(_member: Member, incident_id: str) -> dict[str, Any]:
        return views.incident_json(service.state, incident_id, now())

    return app

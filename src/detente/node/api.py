"""The node's local JSON API (FastAPI): views, speaking, export and status for the member.

Bound to 127.0.0.1 by default. Every route needs ``Authorization: Bearer <api.token>`` (the
token file in the node's directory) except ``/gossip/*``, which other nodes read::

    GET  /api/status                   party, group, log health, misbehaviour, sync
    GET  /api/state                    group, size, state digest
    GET  /api/parties | /api/agreements | /api/agreements/in-force
    GET  /api/incidents | /api/incidents/{id} | /api/deadlines
    GET  /api/log?start=&end=          the verified log, one decoded statement per entry; a
                                       sealed one this node opened also has ``opened``: its
                                       whole body
    GET  /api/opened                   every sealed statement this node opened: index -> body
    POST /api/say/{kind}               body: the statement body JSON; ?tlp=&pap=&dry_run=
    POST /api/sync                     sync with the hub now
    GET  /api/export?incident=|agreement=|start=&end=   a transcript bundle (JSON)
    GET  /gossip/checkpoint            the latest trusted cosigned checkpoint note (public)

The web UI for the member's people (``detente.node.web``: ``/``, ``/login``, ...) is served
by the same app, behind a login with the same token and a session cookie.

Errors are RFC 9457 problem details; a statement the hub refused keeps the hub's ``rule``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from detente.errors import DetenteError, MalformedError
from detente.group import views as group_views
from detente.group.state import GroupState
from detente.hub import views as json_views
from detente.hub.app import problem_for
from detente.node.gossip import gossip_router
from detente.node.speaker import Said, body_from_json
from detente.problem import PROBLEM_MEDIA_TYPE, install_problem_handlers
from detente.statements.kinds import Body, Pap, Tlp, format_time
from detente.statements.payload import SignedStatement, encode_statement
from detente.transcript.bundle import Bundle, Subject

__all__ = ["NodeService", "create_node_app", "statement_json", "subject_of"]

_MAX_LOG_PAGE = 1000


class NodeService(Protocol):
    """What the API needs from a running node (``detente.node.instance.Node`` is one)."""

    @property
    def party(self) -> str: ...

    @property
    def api_token(self) -> str: ...

    def state(self) -> GroupState: ...

    def now(self) -> dt.datetime: ...

    def say(self, kind: str, body: Body, *, tlp: Tlp, pap: Pap | None) -> Said: ...

    def draft(self, kind: str, body: Body, *, tlp: Tlp, pap: Pap | None) -> SignedStatement: ...

    def sync(self) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...

    def entries(self, start: int, end: int) -> list[tuple[int, SignedStatement]]: ...

    def export(self, subject: Subject) -> Bundle: ...

    def latest_checkpoint(self) -> bytes | None: ...

    def revealed(self) -> dict[int, Body]: ...


def statement_json(
    index: int, signed: SignedStatement, opened: Body | None = None
) -> dict[str, Any]:
    """One log entry for people and the web UI: index, signers and the decoded statement;
    ``opened`` is the whole body of a sealed statement the node opened."""
    payload = json.loads(encode_statement(signed.statement))
    out = {
        "index": index,
        "keyids": [s.keyid for s in signed.envelope.signatures],
        **payload,
    }
    if opened is not None:
        out["opened"] = opened.model_dump(mode="json", exclude_none=True)
    return out


def _problem(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


async def _detente_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, DetenteError):  # pragma: no cover - registered for DetenteError
        raise exc
    return _problem(*problem_for(exc))


def _token_check(expected: str) -> Any:
    def check(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="detente-node"'}
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "the node's API token is required (api.token)", challenge)
        # Constant time: the token is the only thing between a local process and the keys.
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise HTTPException(401, "wrong API token", challenge)

    return check


def _enum(cls: type[Tlp] | type[Pap], value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return cls(value.upper())
    except ValueError:
        raise MalformedError(
            f"{name} must be one of {', '.join(v.value for v in cls)}, not {value!r}"
        ) from None


def create_node_app(node: NodeService) -> FastAPI:
    """The node's API for ``node``; see the module docstring for the routes."""
    app = FastAPI(title="Detente node", version="1", description=__doc__)
    install_problem_handlers(app)
    app.add_exception_handler(DetenteError, _detente_error)
    member = [Depends(_token_check(node.api_token))]

    app.include_router(gossip_router(node.latest_checkpoint))

    @app.get("/api/status", dependencies=member, summary="Party, log health, misbehaviour")
    def status() -> dict[str, Any]:
        return node.status()

    @app.post("/api/sync", dependencies=member, summary="Sync with the hub now")
    def sync() -> dict[str, Any]:
        return node.sync()

    @app.get("/api/state", dependencies=member, summary="Group, log size and state digest")
    def state() -> dict[str, Any]:
        return json_views.state_json(node.state())

    @app.get("/api/parties", dependencies=member, summary="Every party and its keys")
    def parties() -> list[dict[str, Any]]:
        return json_views.parties_json(node.state())

    @app.get("/api/agreements", dependencies=member, summary="Every agreement and its status")
    def agreements() -> list[dict[str, Any]]:
        return json_views.agreements_json(node.state())

    @app.get("/api/agreements/in-force", dependencies=member, summary="Agreements in force")
    def in_force() -> list[dict[str, Any]]:
        current = node.state()
        ids = {a.id for a in group_views.agreements_in_force(current)}
        return [a for a in json_views.agreements_json(current) if a["id"] in ids]

    @app.get("/api/incidents", dependencies=member, summary="Every incident, its deadlines")
    def incidents() -> list[dict[str, Any]]:
        return json_views.incidents_json(node.state(), node.now())

    @app.get("/api/incidents/{incident_id}", dependencies=member, summary="One incident thread")
    def incident(incident_id: str) -> dict[str, Any]:
        return json_views.incident_json(node.state(), incident_id, node.now())

    @app.get("/api/deadlines", dependencies=member, summary="Who owes what by when")
    def deadlines() -> list[dict[str, Any]]:
        return [
            {
                "party": d.party,
                "duty": d.duty.value,
                "ref": d.ref,
                "owed_to": d.owed_to,
                "due": format_time(d.due),
                "met_at": None if d.met_at is None else format_time(d.met_at),
                "overdue": d.overdue,
                "late": d.late,
            }
            for d in group_views.deadlines(node.state(), node.now())
        ]

    @app.get("/api/log", dependencies=member, summary="The verified log, decoded")
    def log(
        start: Annotated[int, Query(ge=0)] = 0, end: Annotated[int | None, Query(ge=1)] = None
    ) -> dict[str, Any]:
        size = node.state().size
        stop = min(size, end if end is not None else size, start + _MAX_LOG_PAGE)
        if start >= size or stop <= start:
            raise MalformedError(f"bad range [{start}, {end}): the log has {size} entries")
        found = node.entries(start, stop)
        opened = node.revealed()
        return {
            "size": size,
            "entries": [statement_json(i, s, opened.get(i)) for i, s in found],
        }

    @app.get("/api/opened", dependencies=member, summary="Sealed statements this node opened")
    def revealed() -> dict[str, Any]:
        return {
            "opened": {
                str(i): b.model_dump(mode="json", exclude_none=True)
                for i, b in node.revealed().items()
            }
        }

    @app.post(
        "/api/say/{kind}",
        dependencies=member,
        status_code=201,
        summary="Say something: compose, sign, submit; answers the index and receipt",
        description="The request body is the statement body (JSON), e.g. for incident.respond "
        '`{"incident": "inc-1", "response": "acknowledge", "text": "..."}`. '
        "`dry_run=true` answers the statement that would be signed, and submits nothing.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def say(
        kind: str,
        request: Request,
        tlp: str | None = None,
        pap: str | None = None,
        dry_run: bool = False,
    ) -> Response:
        try:
            raw = json.loads(await request.body())
        except ValueError as exc:
            raise MalformedError(f"the body is not JSON: {exc}") from exc
        body = body_from_json(kind, raw)
        level = _enum(Tlp, tlp, "tlp") or Tlp.GREEN
        actions = _enum(Pap, pap, "pap")
        if dry_run:
            signed = node.draft(kind, body, tlp=level, pap=actions)
            return JSONResponse({"statement": json.loads(encode_statement(signed.statement))})
        said = node.say(kind, body, tlp=level, pap=actions)
        return JSONResponse(said.to_json(), status_code=201)

    @app.get("/api/export", dependencies=member, summary="A transcript bundle (JSON)")
    def export(
        incident: str | None = None,
        agreement: str | None = None,
        start: Annotated[int | None, Query(ge=0)] = None,
        end: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        subject = subject_of(incident, agreement, start, end)
        bundle = node.export(subject)
        name = f"{subject.describe()}".replace(" ", "-").replace("/", "-")
        return Response(
            bundle.to_bytes(),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )

    # The web UI for the member's people (login with the same token; detente.node.web).
    from detente.node.web import mount_web

    mount_web(app, node)  # type: ignore[arg-type]  # a full Node, not only a NodeService
    return app


def subject_of(
    incident: str | None, agreement: str | None, start: int | None, end: int | None
) -> Subject:
    """The one subject named by exactly one of: an incident, an agreement, a range."""
    given = [incident is not None, agreement is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise MalformedError("name exactly one of: an incident, an agreement, a range start:end")
    if incident is not None:
        return Subject.incident(incident)
    if agreement is not None:
        return Subject.agreement(agreement)
    if start is None or end is None:
        raise MalformedError("a range needs both start and end")
    return Subject.range(start, end)

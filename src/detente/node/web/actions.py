"""The pages that change something: log in and out, sync, compose -> preview -> sign.

Every POST carries the session's CSRF token (the login form a double-submit token of its
own); a POST without the right one is refused with 403 and changes nothing. Composing is two
steps: *preview* validates the form and shows the exact canonical statement bytes that will
be signed (with ``seq``, ``prev`` and ``issued_at`` filled in); *sign* signs exactly those
bytes, after checking they are still the member's next statement. A refused signature shows
the form again with the error, filled in from the previewed statement (``form_from_body``),
so previewing again takes one click; evidence files must be attached again.

Sealed content (TLP:AMBER and stricter, or recipients chosen): the preview shows the public
statement (its confidential fields replaced by the ciphertext's hash, size and recipients) and
the content that will be encrypted. Encryption is randomised and the preview's ciphertext is
not kept, so *sign* seals the same content to the same recipients afresh (``Node.say``): the
signed statement equals the preview but for the ciphertext's hash and size and the time; the
content is checked against the previewed readable fields first (``open_sealed``).

Evidence files posted with an ``incident.notify`` are kept in the node's ``evidence/`` folder
and sealed to the incident's readers when the form is previewed
(``detente.node.evidence.seal_evidence``), so the previewed content names their blobs; the
ciphertext is uploaded to the hub only when the member signs (``upload_evidence``), so a
preview the member abandons tells the hub nothing, not even a file's size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData as StarletteForm
from starlette.datastructures import UploadFile

from detente.errors import DetenteError, MalformedError
from detente.group import views
from detente.group.state import AgreementStatus, GroupState
from detente.node.evidence import (
    EVIDENCE_DIR,
    incident_readers,
    safe_name,
    seal_evidence,
    stored_name,
    upload_evidence,
)
from detente.node.speaker import Said, new_id
from detente.node.web.forms import (
    COMPOSE_KINDS,
    SEALABLE_COMPOSED,
    FormData,
    body_from_form,
    form_from_body,
    recipients_from_form,
    tlp_from_form,
)
from detente.node.web.sealed import incident_titles
from detente.node.web.session import COOKIE, Session
from detente.node.web.ui import WebUI
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import (
    Body,
    ContactRole,
    IncidentNotify,
    Purpose,
    SealableBody,
    Severity,
    Tlp,
)
from detente.statements.kinds import Response as Answer
from detente.statements.payload import Statement, encode_statement, parse_statement
from detente.statements.sealing import CONFIDENTIAL_TLP, open_sealed, plaintext

__all__ = ["add_actions"]

_LOGIN_COOKIE = "detente_login_csrf"
#: Largest text field of a form (a summary is at most 8,000 characters). Uploaded files are
#: not held in memory: Starlette spools them to disk and they are copied in pieces.
_MAX_FIELD = 1024 * 1024
_COPY_CHUNK = 1024 * 1024


def _safe_next(target: str | None) -> str:
    # Only a path on this node: never an absolute URL or a scheme-relative //host.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_response(ui: WebUI, target: str) -> Response:
    session = ui.sessions.open()
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/")
    response.delete_cookie(_LOGIN_COOKIE, path="/")
    return response


@dataclass(frozen=True, slots=True)
class _Posted:
    """A POSTed form, read whole and closed: its text fields and its uploaded files."""

    fields: dict[str, list[str]]
    files: list[tuple[str, str, Path]]  # (file name, media type, where the node keeps it)

    def one(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


def _fields(form: StarletteForm) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def _options(ui: WebUI, state: GroupState) -> dict[str, Any]:
    """What the compose forms offer to choose from."""
    me = ui.node.party
    members = [p.id for p in views.parties(state)]
    in_force = views.agreements_in_force(state)
    to_sign = [
        a
        for a in sorted(state.agreements.values(), key=lambda a: a.id)
        if state.agreement_status(a) is AgreementStatus.PROPOSED
        and me in a.parties
        and me not in a.signatures
    ]
    addressed = [i for i in sorted(state.incidents.values(), key=lambda i: i.index) if me in i.to]
    now = ui.node.now()
    return {
        "others": [p for p in members if p != me],
        "members": members,
        "in_force": [{"a": a, "norms": [views.norm(state, n) for n in a.norms]} for a in in_force],
        "to_sign": to_sign,
        "addressed": addressed,
        "incidents": sorted(state.incidents.values(), key=lambda i: i.index),
        "titles": incident_titles(state, ui.node.revealed()),
        "sealable": SEALABLE_COMPOSED,
        "confidential": sorted(t.value for t in CONFIDENTIAL_TLP),
        "all_norms": views.all_norms(state),
        "purposes": [p.value for p in Purpose],
        "severities": [s.value for s in Severity],
        "responses": [r.value for r in Answer],
        "roles": [r.value for r in ContactRole],
        "tlps": [t.value for t in Tlp],
        "new_ids": {
            "incident.notify": new_id("inc", now),
            "consultation.request": new_id("consult", now),
            "ping": new_id("ping", now),
        },
    }


def add_actions(router: APIRouter, ui: WebUI) -> None:
    """Register login, logout, sync and compose on ``router``."""

    def compose_page(
        request: Request,
        session: Session,
        kind: str,
        values: FormData,
        *,
        error: str | None = None,
        status_code: int = 200,
        preview: dict[str, Any] | None = None,
    ) -> Response:
        state = ui.node.state()
        return ui.render(
            request,
            "compose.html",
            session,
            status_code,
            kind=kind,
            kinds=COMPOSE_KINDS,
            title=COMPOSE_KINDS[kind],
            values={k: list(v) for k, v in values.items()},
            default_tlp=_default_tlp(state, kind, values).value,
            error=error,
            preview=preview,
            **_options(ui, state),
        )

    @router.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/", once: str = "") -> Response:
        if once:
            if ui.sessions.redeem(once):
                return _login_response(ui, next)
            error = "this login link was already used or has expired: enter the API token"
        else:
            error = None
        token = secrets.token_urlsafe(24)
        response = ui.render(
            request,
            "login.html",
            None,
            401 if error else 200,
            next=_safe_next(next),
            login_csrf=token,
            error=error,
        )
        response.set_cookie(_LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        async with request.form() as form:
            fields = _fields(form)
        posted = _Posted(fields, [])
        sent, kept = posted.one("csrf"), request.cookies.get(_LOGIN_COOKIE)
        if not isinstance(sent, str) or not kept or not secrets.compare_digest(sent, kept):
            return ui.render(request, "error.html", None, 403, message="login form expired")
        token = posted.one("token")
        target = posted.one("next")
        if not isinstance(token, str) or not ui.sessions.check_token(token):
            response = ui.render(
                request,
                "login.html",
                None,
                401,
                next=_safe_next(target if isinstance(target, str) else "/"),
                login_csrf=kept,
                error="wrong token: it is the content of api.token in the node's directory",
            )
            return response
        return _login_response(ui, target if isinstance(target, str) else "/")

    async def checked(request: Request) -> tuple[Session | None, _Posted, Response]:
        """The session and form of a POST, or the response refusing it."""
        session = ui.session(request)
        if session is None:
            return None, _Posted({}, []), ui.to_login(request)
        async with request.form(max_part_size=_MAX_FIELD) as form:
            posted = _Posted(_fields(form), [])
            if not ui.sessions.csrf_ok(session, posted.one("csrf")):
                message = "refused: the form's CSRF token is missing or wrong (reload the page)"
                return None, posted, ui.render(request, "error.html", session, 403, message=message)
            # Only a checked form's files are kept, copied piece by piece.
            folder = ui.node.directory.path / EVIDENCE_DIR
            posted.files.extend(await _uploads(form.getlist("evidence_file"), folder))
        return session, posted, Response()

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session, _posted, refused = await checked(request)
        if session is None:
            return refused
        ui.sessions.close(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.post("/sync", include_in_schema=False)
    async def sync(request: Request) -> Response:
        session, posted, refused = await checked(request)
        if session is None:
            return refused
        try:
            report = await run_in_threadpool(_sync, ui)
            ui.last_sync = {"at": ui.node.now(), "ok": True, "report": report}
        except DetenteError as exc:
            ui.last_sync = {"at": ui.node.now(), "ok": False, "error": str(exc)}
        back = posted.one("next")
        return RedirectResponse(_safe_next(back if isinstance(back, str) else "/"), 303)

    @router.get("/compose", include_in_schema=False)
    def compose_menu(request: Request) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        return ui.render(request, "compose_menu.html", session, kinds=COMPOSE_KINDS)

    @router.get("/compose/{kind}", include_in_schema=False)
    def compose_form(request: Request, kind: str) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        if kind not in COMPOSE_KINDS:
            return ui.render(request, "error.html", session, 404, message=f"no form for {kind}")
        values = {k: [v] for k, v in request.query_params.items()}
        return compose_page(request, session, kind, values)

    @router.post("/compose/{kind}", include_in_schema=False)
    async def compose(request: Request, kind: str) -> Response:
        session, posted, refused = await checked(request)
        if session is None:
            return refused
        if kind not in COMPOSE_KINDS:
            return ui.render(request, "error.html", session, 404, message=f"no form for {kind}")
        values = posted.fields
        if posted.one("action") == "sign":
            return await _sign(request, session, kind, values)
        try:
            tlp = tlp_from_form(values, _default_tlp(ui.node.state(), kind, values))
            body = body_from_form(kind, values)
            extra = recipients_from_form(values) if kind in SEALABLE_COMPOSED else []
            if isinstance(body, IncidentNotify) and posted.files:
                # Every field checked first; then each file is sealed (uploaded on signing).
                evidence = await run_in_threadpool(_evidence, ui, body.to, tlp, extra, posted.files)
                body = body_from_form(kind, values, evidence)
            signed = ui.node.draft(kind, body, tlp=tlp, pap=None, recipients=extra or None)
        except DetenteError as exc:
            return compose_page(request, session, kind, values, error=str(exc), status_code=400)
        payload = encode_statement(signed.statement)
        public = signed.statement.body
        sealed = public.sealed if isinstance(public, SealableBody) else None
        content = None
        if sealed is not None and isinstance(body, SealableBody):
            data = plaintext(body)
            content = {
                "encoded": base64.b64encode(data).decode(),
                "pretty": json.dumps(json.loads(data), indent=2, ensure_ascii=False),
                "fields": ", ".join(body.CONFIDENTIAL),
            }
        preview = {
            "payload": payload.decode(),
            "pretty": json.dumps(json.loads(payload), indent=2, ensure_ascii=False),
            "encoded": base64.b64encode(payload).decode(),
            "payload_type": PAYLOAD_TYPE,
            "keyid": signed.envelope.signatures[0].keyid,
            "seq": signed.statement.seq,
            "sealed": sealed,
            "content": content,
        }
        return compose_page(request, session, kind, values, preview=preview)

    async def _sign(
        request: Request, session: Session, kind: str, values: dict[str, list[str]]
    ) -> Response:
        try:
            payload = base64.b64decode(values.get("payload", [""])[0], validate=True)
            statement = parse_statement(payload)
            if statement.kind != kind or statement.author != ui.node.party:
                raise MalformedError(f"this form signs {kind} statements of {ui.node.party}")
            public = statement.body
            if isinstance(public, SealableBody) and public.sealed is not None:
                content = base64.b64decode(values.get("content", [""])[0], validate=True)
                if not content:
                    raise MalformedError("sealed content is signed from its preview: preview again")
                whole = open_sealed(public, content)  # the content of the previewed statement
                said = await run_in_threadpool(_seal_and_say, ui, statement, whole)
            else:
                said = await run_in_threadpool(_sign_exactly, ui, statement)
        except (DetenteError, binascii.Error) as exc:
            again, error = _form_again(values, str(exc))
            return compose_page(request, session, kind, again, error=error, status_code=400)
        body = json.loads(encode_statement(statement))["body"]
        incident = body.get("incident") if kind != "incident.notify" else body.get("id")
        target = f"/incidents/{incident}" if isinstance(incident, str) else "/"
        return RedirectResponse(f"{target}?said={said.index}", status_code=303)


def _form_again(posted: FormData, error: str) -> tuple[FormData, str]:
    """The form a refused signature shows again, filled in from the previewed statement (and
    its sealed content) when they parse, and the error, which says to attach evidence files
    again if there were any."""
    try:
        statement = parse_statement(base64.b64decode(posted.get("payload", [""])[0]))
        body = statement.body
        recipients: list[str] = []
        if isinstance(body, SealableBody) and body.sealed is not None:
            recipients = [p for p in body.sealed.recipients if p != statement.author]
            content = base64.b64decode(posted.get("content", [""])[0], validate=True)
            body = open_sealed(body, content) if content else body
    except (DetenteError, binascii.Error, ValueError):
        return posted, error
    if isinstance(body, IncidentNotify) and body.evidence:
        error += (
            " (the form is filled in from your preview but for its evidence files: attach them"
            " again)"
        )
    return form_from_body(body, statement.tlp, recipients), error


def _sign_exactly(ui: WebUI, statement: Statement) -> Said:
    """Sign and submit exactly ``statement`` if it is still the member's next one."""
    with ui.lock:
        state = ui.node.state()
        _still_next(ui, state, statement, statement.body)
        _upload_evidence(ui, statement.body)
        said = ui.node.speaker.submit(ui.node.speaker.sign(statement), state=state)
        ui.node.sync()
    return said


def _still_next(ui: WebUI, state: GroupState, statement: Statement, body: Body) -> None:
    """Refuse a previewed ``statement`` that is no longer the member's next one."""
    fresh = ui.node.speaker.compose(
        statement.kind, body, tlp=statement.tlp, pap=statement.pap, state=state
    )
    if (fresh.seq, fresh.prev, fresh.group) != (statement.seq, statement.prev, statement.group):
        raise MalformedError(
            f"your node's chain moved on since the preview (next seq is {fresh.seq}, "
            f"the preview had {statement.seq}): preview again"
        )


def _seal_and_say(ui: WebUI, statement: Statement, whole: Body) -> Said:
    """Seal ``whole`` afresh to the previewed recipients and say it, if the previewed
    ``statement`` is still the member's next one."""
    public = statement.body
    if not isinstance(public, SealableBody) or public.sealed is None:  # pragma: no cover
        raise MalformedError("this statement is not sealed")
    with ui.lock:
        state = ui.node.state()
        _still_next(ui, state, statement, public)
        _upload_evidence(ui, whole)
        return ui.node.say(
            statement.kind,
            whole,
            tlp=statement.tlp,
            pap=statement.pap,
            recipients=list(public.sealed.recipients),
        )


def _upload_evidence(ui: WebUI, body: Body) -> None:
    """Upload the evidence ciphertext the preview sealed and kept, now that the member signs
    (the hub refuses a statement naming a blob it does not hold)."""
    if isinstance(body, IncidentNotify) and body.evidence:
        upload_evidence(ui.node, body.evidence)


def _sync(ui: WebUI) -> dict[str, Any]:
    with ui.lock:
        return ui.node.sync()


def _default_tlp(state: GroupState, kind: str, values: FormData) -> Tlp:
    """The marking a form starts with: AMBER for a new incident; for a statement about an
    incident, that incident's own marking if it is stricter than GREEN (the group rules refuse
    anything lower); GREEN otherwise."""
    if kind == "incident.notify":
        return Tlp.AMBER
    incident_id = values.get("incident")
    found = state.incidents.get(incident_id[0]) if incident_id else None
    if found is not None and found.tlp in CONFIDENTIAL_TLP:
        return found.tlp
    return Tlp.GREEN


async def _uploads(items: Sequence[Any], folder: Path) -> list[tuple[str, str, Path]]:
    """Keep each non-empty uploaded file in ``folder`` (named by its SHA-256 and its name),
    copied and hashed piece by piece: (file name, media type, path)."""
    found = []
    for upload in items:
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        folder.mkdir(exist_ok=True)
        incoming = folder / f".incoming-{secrets.token_hex(8)}"
        digest, size = hashlib.sha256(), 0
        try:
            with incoming.open("xb") as out:
                while piece := await upload.read(_COPY_CHUNK):
                    digest.update(piece)
                    size += len(piece)
                    out.write(piece)
            if size == 0:
                continue
            kept = folder / stored_name(digest.digest(), upload.filename)
            incoming.replace(kept)
        finally:
            incoming.unlink(missing_ok=True)
        found.append((upload.filename, upload.content_type or "", kept))
    return found


def _evidence(
    ui: WebUI,
    to: Sequence[str],
    tlp: Tlp,
    extra: Sequence[str],
    files: Sequence[tuple[str, str, Path]],
) -> list[dict[str, Any]]:
    """Each uploaded file kept on this node and sealed to the incident's readers (uploaded to
    the hub only when the member signs); the wire form of its reference."""
    node = ui.node
    readers = incident_readers(node.state(), node.party, to, tlp=tlp, recipients=extra)
    found = []
    for name, media_type, kept in files:
        ref = seal_evidence(
            node, kept, readers, media_type=media_type or None, name=safe_name(name)
        )
        found.append(ref.model_dump(mode="json", exclude_none=True))
    return found

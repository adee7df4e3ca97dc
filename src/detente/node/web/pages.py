"""The read-only pages: dashboard, incident thread, verify, evidence, norms, export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from detente.errors import DetenteError, MalformedError, NotFoundError, VerificationError
from detente.group import views
from detente.group.norms import FRAMEWORKS, GROUP_FRAMEWORK, search_norms
from detente.group.state import AgreementStatus, GroupState, Incident
from detente.node.api import subject_of
from detente.node.evidence import fetch_evidence, find_evidence, is_reader
from detente.node.web import chart
from detente.node.web.health import LogHealth, Witnessed, log_health, logged_at
from detente.node.web.receipt import check_receipt
from detente.node.web.sealed import body_for_page, incident_titles, shown_incident
from detente.node.web.ui import WebUI, markup
from detente.transcript.report import sealed_of

__all__ = ["add_pages"]


def _proof(deadline: views.Deadline, latest: Witnessed | None) -> str:
    """What proves a deadline passed: a witnessed checkpoint time after it, or nothing yet."""
    witnessed = None if latest is None else latest.witnessed_at
    if latest is not None and witnessed is not None and witnessed > deadline.due:
        names = ", ".join(n for n, t in latest.cosignatures if t is not None and t > deadline.due)
        return (
            f"proven: checkpoint of size {latest.size} was cosigned by {names} at "
            f"{witnessed:%Y-%m-%d %H:%M:%S}Z, after the deadline"
        )
    seen = "no witnessed checkpoint" if witnessed is None else f"{witnessed:%Y-%m-%d %H:%M:%S}Z"
    return f"not yet witnessed: the latest cosigned checkpoint is from {seen}"


def _deadline_rows(
    state: GroupState, now: dt.datetime, health: LogHealth, ref: str | None = None
) -> list[dict[str, Any]]:
    rows = []
    for d in views.deadlines(state, now):
        if ref is not None and d.ref != ref:
            continue
        rows.append(
            {
                "d": d,
                "left": d.due - now,
                "proof": _proof(d, health.latest) if d.overdue else None,
            }
        )
    return rows


def _contact(state: GroupState, party: str, role: str) -> str:
    found = state.parties.get(party)
    for contact in () if found is None else found.contacts:
        if contact.role.value == role:
            return contact.name
    return "(no contact published)"


def _agreements(state: GroupState) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    in_force, proposed = [], []
    for agreement in sorted(state.agreements.values(), key=lambda a: a.id):
        status = state.agreement_status(agreement)
        norms = []
        for norm_id in agreement.norms:
            try:
                norms.append(views.norm(state, norm_id))
            except NotFoundError:
                continue
        row: dict[str, Any] = {"a": agreement, "status": status.value, "norms": norms}
        if status is AgreementStatus.IN_FORCE:
            in_force.append(row)
        elif status is AgreementStatus.PROPOSED:
            row["missing"] = [p for p in agreement.parties if p not in agreement.signatures]
            proposed.append(row)
    return in_force, proposed


def _timeline(ui: WebUI, state: GroupState, incident: Incident) -> list[dict[str, Any]]:
    indexes = [incident.index, *(r.index for r in incident.thread)]
    for consultation in views.consultations_for(state, incident.id):
        indexes.append(consultation.index)
        indexes.extend(m.index for m in consultation.records)
    indexes.extend(s.index for s in state.sightings if s.incident == incident.id)
    checkpoints = sorted(ui.node.store.checkpoints(), key=lambda c: int(c.size))
    items = []
    for index in sorted(set(indexes)):
        (_, signed), *_ = ui.node.entries(index, index + 1)
        statement = signed.statement
        sealed = sealed_of(statement)
        opened = None if sealed is None else ui.node.opened(index)
        items.append(
            {
                "index": index,
                "kind": statement.kind,
                "author": statement.author,
                "issued_at": statement.issued_at,
                "tlp": statement.tlp.value,
                "logged": logged_at(state, checkpoints, index),
                "body": body_for_page(statement, opened),
                "sealed": sealed,
                "opened": opened is not None,
            }
        )
    return items


def add_pages(router: APIRouter, ui: WebUI) -> None:
    """Register the read-only pages on ``router``."""

    @router.get("/", include_in_schema=False)
    def dashboard(request: Request) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        state, now = ui.node.state(), ui.node.now()
        health = log_health(ui.node.store, state, now)
        in_force, proposed = _agreements(state)
        deadlines = _deadline_rows(state, now, health)
        pings = [
            {"a": a, "contact": _contact(state, a.party, state.pings[a.ping].role.value)}
            for a in views.ping_answers(state)
        ][-10:]
        incidents = sorted(state.incidents.values(), key=lambda i: i.index, reverse=True)
        return ui.render(
            request,
            "dashboard.html",
            session,
            state=state,
            health=health,
            last_sync=ui.last_sync,
            in_force=in_force,
            proposed=proposed,
            open_incidents=views.open_incidents(state),
            incidents=incidents,
            titles=incident_titles(state, ui.node.revealed()),
            deadlines=deadlines,
            overdue=[r for r in deadlines if r["d"].overdue],
            pings=pings,
            incident_chart=markup(
                chart.bar_chart(
                    chart.incident_bars(state, now), "Time to answer, per incident", "c-inc"
                )
            ),
            ping_chart=markup(
                chart.bar_chart(
                    chart.ping_bars(state, now), "Ping answer times, per contact", "c-ping"
                )
            ),
        )

    @router.get("/incidents/{incident_id}", include_in_schema=False)
    def incident_page(request: Request, incident_id: str) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        state, now = ui.node.state(), ui.node.now()
        try:
            incident = views.incident_thread(state, incident_id)
        except NotFoundError as exc:
            return ui.render(request, "error.html", session, 404, message=str(exc))
        health = log_health(ui.node.store, state, now)
        shown = shown_incident(
            incident, None if incident.sealed is None else ui.node.opened(incident.index)
        )
        recipient = is_reader(state, ui.node.party, incident)
        # A reader downloads what the hub holds (fetched, decrypted and verified on demand)
        # or what this node holds; only out-of-band files are looked for here.
        evidence = [
            {
                "e": e,
                "held": recipient
                and (e.blob is not None or find_evidence(ui.node.directory.path, e) is not None),
            }
            for e in shown.evidence
        ]
        return ui.render(
            request,
            "incident.html",
            session,
            incident=incident,
            shown=shown,
            timeline=_timeline(ui, state, incident),
            deadlines=_deadline_rows(state, now, health, incident.id),
            evidence=evidence,
            recipient=recipient,
            can_respond=ui.node.party in incident.to,
            agreement=None
            if incident.agreement is None
            else state.agreements.get(incident.agreement),
        )

    @router.get("/verify/{index}", include_in_schema=False)
    def verify(request: Request, index: int) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        try:
            result = check_receipt(ui.node.store, ui.node.state(), index)
        except MalformedError as exc:
            return ui.render(request, "error.html", session, 404, message=str(exc))
        fragment = request.headers.get("x-fragment") == "1"
        template = "verify_result.html" if fragment else "verify.html"
        return ui.render(request, template, session, result=result)

    @router.get("/evidence/{sha256}", include_in_schema=False)
    def evidence(request: Request, sha256: str, incident: str) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        state = ui.node.state()
        try:
            found = views.incident_thread(state, incident)
            digest = bytes.fromhex(sha256)
        except (NotFoundError, ValueError) as exc:
            return ui.render(request, "error.html", session, 404, message=str(exc))
        if not is_reader(state, ui.node.party, found):
            readers = "every member" if found.sealed is None else ", ".join(found.sealed.recipients)
            message = (
                f"only the readers of incident {found.id} ({readers}) can download its "
                f"evidence; {ui.node.party} is not one of them"
            )
            return ui.render(request, "error.html", session, 403, message=message)
        shown = shown_incident(found, None if found.sealed is None else ui.node.opened(found.index))
        ref = next((e for e in shown.evidence if e.sha256 == digest), None)
        if ref is None:
            message = f"incident {found.id} names no evidence file {sha256} that this node can read"
            return ui.render(request, "error.html", session, 404, message=message)
        try:
            path = fetch_evidence(ui.node, ref)
        except NotFoundError as exc:
            return ui.render(request, "error.html", session, 404, message=str(exc))
        except VerificationError as exc:
            message = f"the evidence does not verify, so it is not served: {exc}"
            return ui.render(request, "error.html", session, 502, message=message)
        except DetenteError as exc:
            message = f"the evidence cannot be fetched from the hub: {exc}"
            return ui.render(request, "error.html", session, 502, message=message)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=ref.name,
            headers={"X-Content-Type-Options": "nosniff"},
        )

    @router.get("/norms", include_in_schema=False)
    def norms(request: Request, q: str = "", framework: str = "") -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        state = ui.node.state()
        found = search_norms(q, views.all_norms(state))
        if framework:
            found = tuple(n for n in found if n.framework == framework)
        in_force = {n for a in views.agreements_in_force(state) for n in a.norms}
        return ui.render(
            request,
            "norms.html",
            session,
            norms=found,
            q=q,
            framework=framework,
            frameworks=(*FRAMEWORKS, GROUP_FRAMEWORK),
            in_force=in_force,
        )

    @router.get("/export", include_in_schema=False)
    def export_page(request: Request) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        state = ui.node.state()
        return ui.render(
            request,
            "export.html",
            session,
            incidents=sorted(state.incidents.values(), key=lambda i: i.index),
            titles=incident_titles(state, ui.node.revealed()),
            agreements=sorted(state.agreements.values(), key=lambda a: a.id),
            size=state.size,
        )

    @router.get("/export/bundle", include_in_schema=False)
    def export_bundle(
        request: Request,
        incident: str = "",
        agreement: str = "",
        start: str = "",
        end: str = "",
    ) -> Response:
        session = ui.session(request)
        if session is None:
            return ui.to_login(request)
        try:
            subject = subject_of(
                incident or None,
                agreement or None,
                int(start) if start else None,
                int(end) if end else None,
            )
            bundle = ui.node.export(subject)
        except (DetenteError, ValueError) as exc:
            return ui.render(request, "error.html", session, 400, message=str(exc))
        name = subject.describe().replace(" ", "-").replace("/", "-")
        return Response(
            bundle.to_bytes(),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="transcript-{name}.json"'},
        )

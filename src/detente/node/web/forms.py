"""The compose forms: which fields each statement kind asks for, form data -> body, and back.

Form values are turned into the body's wire JSON and validated by the same strict body
models as the JSON API (``detente.node.speaker.body_from_json``), so a form can never sign
something the API would refuse to parse. Errors are :class:`MalformedError` with the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from detente.errors import MalformedError
from detente.node.speaker import body_from_json
from detente.statements.kinds import Body, Tlp, format_time

__all__ = [
    "COMPOSE_KINDS",
    "SEALABLE_COMPOSED",
    "FormData",
    "body_from_form",
    "form_from_body",
    "recipients_from_form",
    "tlp_from_form",
]

#: The kinds the UI composes, with a title for people; in menu order.
COMPOSE_KINDS: dict[str, str] = {
    "incident.notify": "Notify or allege",
    "incident.respond": "Respond to an incident",
    "consultation.request": "Request a consultation",
    "ping": "Ping a point of contact",
    "norm.propose": "Propose a norm",
    "agreement.propose": "Propose an agreement",
    "agreement.sign": "Sign an agreement",
}

#: The kinds the UI composes whose content can be sealed (``detente.statements.sealing``).
SEALABLE_COMPOSED = frozenset({"incident.notify", "incident.respond", "consultation.request"})

#: Form data: each field's values (one for plain inputs, several for checkboxes).
FormData = Mapping[str, Sequence[str]]


def _one(form: FormData, name: str) -> str | None:
    values = [v.strip() for v in form.get(name, ()) if v.strip()]
    if len(values) > 1:
        raise MalformedError(f"field {name!r} was given {len(values)} times")
    return values[0] if values else None


def _need(form: FormData, name: str) -> str:
    value = _one(form, name)
    if value is None:
        raise MalformedError(f"field {name!r} is required")
    return value


def _many(form: FormData, name: str) -> list[str]:
    values: list[str] = []
    for raw in form.get(name, ()):
        values.extend(p.strip() for p in raw.split(",") if p.strip())
    return list(dict.fromkeys(values))  # in order, once each


def _int(form: FormData, name: str) -> int | None:
    value = _one(form, name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise MalformedError(f"field {name!r} must be a whole number, not {value!r}")
    return int(value)


def _time(form: FormData, name: str) -> str | None:
    """A ``datetime-local`` value (read as UTC) or RFC 3339, as RFC 3339 UTC."""
    value = _one(form, name)
    if value is None:
        return None
    for layout in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = dt.datetime.strptime(value, layout).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        return format_time(parsed)
    raise MalformedError(f"field {name!r} must be a UTC time like 2026-11-27T21:00, not {value!r}")


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    # Optional fields are absent when unset, never null (the canonical payload form).
    return {k: v for k, v in body.items() if v is not None}


def tlp_from_form(form: FormData, default: Tlp = Tlp.GREEN) -> Tlp:
    value = _one(form, "tlp")
    if value is None:
        return default
    try:
        return Tlp(value.upper())
    except ValueError:
        allowed = ", ".join(t.value for t in Tlp)
        raise MalformedError(f"tlp must be one of {allowed}, not {value!r}") from None


def recipients_from_form(form: FormData) -> list[str]:
    """Parties the author chose to seal the content to as well (besides the addressees)."""
    return _many(form, "recipients")


def body_from_form(kind: str, form: FormData, evidence: Sequence[Mapping[str, Any]] = ()) -> Body:
    """The body of ``kind`` from form data (``evidence``: references of uploaded files)."""
    body: dict[str, Any]
    if kind == "norm.propose":
        body = {
            "id": _need(form, "id"),
            "title": _need(form, "title"),
            "text": _need(form, "text"),
            "provenance": _many(form, "provenance"),
        }
    elif kind == "agreement.propose":
        body = {
            "id": _need(form, "id"),
            "title": _need(form, "title"),
            "norms": _many(form, "norms"),
            "parties": _many(form, "parties"),
            "answer_hours": _int(form, "answer_hours"),
        }
    elif kind == "agreement.sign":
        body = {"agreement": _need(form, "agreement")}
    elif kind == "incident.notify":
        body = {
            "id": _need(form, "id"),
            "purpose": _need(form, "purpose"),
            "to": _many(form, "to"),
            "title": _need(form, "title"),
            "summary": _need(form, "summary"),
            "severity": _need(form, "severity"),
            "agreement": _one(form, "agreement"),
            "norms": _many(form, "norms"),
            "evidence": [dict(e) for e in evidence],
            "answer_by": _time(form, "answer_by"),
        }
        if body["purpose"] == "allegation" and not body["norms"]:
            raise MalformedError("an allegation names the norms allegedly broken: choose one")
    elif kind == "incident.respond":
        body = {
            "incident": _need(form, "incident"),
            "response": _need(form, "response"),
            "text": _need(form, "text"),
        }
    elif kind == "consultation.request":
        when = _time(form, "proposed_time")
        body = {
            "id": _need(form, "id"),
            "with_parties": _many(form, "with_parties"),
            "agenda": _need(form, "agenda"),
            "incident": _one(form, "incident"),
            "proposed_times": [] if when is None else [when],
        }
    elif kind == "ping":
        body = {
            "id": _need(form, "id"),
            "to": _many(form, "to"),
            "role": _need(form, "role"),
            "reply_within_minutes": _int(form, "reply_within_minutes"),
        }
    else:
        raise MalformedError(f"the web UI does not compose {kind!r}")
    return body_from_json(kind, _drop_none(body))


#: Body lists whose form field holds only their first item, under another name.
_FIRST_ONLY = {"proposed_times": "proposed_time"}
#: Body fields holding RFC 3339 times; their form fields are ``datetime-local`` (UTC).
_TIMES = frozenset({"answer_by", "proposed_times"})
#: Body fields that are never form fields: files are attached again; the seal is the node's.
_NOT_FORM_FIELDS = frozenset({"evidence", "sealed"})


def form_from_body(body: Body, tlp: Tlp, recipients: Sequence[str] = ()) -> dict[str, list[str]]:
    """Form data that composes ``body`` again, marked ``tlp`` and sealed to ``recipients``
    as well: what a refused signature gives back to the member instead of an empty form.
    Evidence files are not in it (a browser attaches files anew)."""
    values: dict[str, list[str]] = {"tlp": [tlp.value]}
    if recipients:
        values["recipients"] = list(recipients)
    for name, value in body.model_dump(mode="json", exclude_none=True).items():
        if name in _NOT_FORM_FIELDS:
            continue
        items = value if isinstance(value, list) else [value]
        if name in _FIRST_ONLY:
            items = items[:1]
        if name in _TIMES:  # "2026-11-27T21:00:00Z" -> "2026-11-27T21:00:00"
            items = [str(t).removesuffix("Z") for t in items]
        values[_FIRST_ONLY.get(name, name)] = [str(v) for v in items]
    return values

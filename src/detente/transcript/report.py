"""The verified transcript: what was said, by whom, when it was logged, and what is overdue.

Made only by :func:`detente.transcript.verify.verify_bundle`, after every proof and
signature checked out. Times:

- ``issued_at`` is what the author wrote (an author could back-date it);
- ``logged_by`` is the witnessed time of the earliest cosigned checkpoint in the bundle that
  covers the entry (the latest cosignature on that checkpoint: the weakest, safest claim);
  the entry was in the log by then;
- ``as_of`` is the final checkpoint's latest cosignature time. Deadlines are judged at that
  moment and never at the reader's clock, so the verdict is the same for every reader.

A duty is met by the first qualifying reply in the bundle; it counts as met when it was
LOGGED (witnessed) by the deadline, since ``issued_at`` can be back-dated.

Sealed content (TLP:AMBER and stricter, see ``detente.statements.sealing``) is in the log only
as its ciphertext's hash, size and recipients, and so in a transcript: a statement reads
"sealed to blueland, redland: 3f2a9c81d0e4, 412 bytes" where its title or text would be. Its
readable fields (addressees, deadlines, norms) are shown and judged as for any statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from detente.group.views import sealed_note
from detente.statements.kinds import (
    AgreementPropose,
    IncidentNotify,
    IncidentRespond,
    Ping,
    PingAck,
    Response,
    SealableBody,
    Sealed,
    format_time,
)
from detente.statements.payload import Statement
from detente.transcript.bundle import Subject

__all__ = [
    "DeadlineState",
    "DeadlineStatus",
    "Row",
    "Transcript",
    "WitnessTime",
    "deadline_statuses",
    "sealed_of",
    "summarize",
]

#: Responses that answer an incident (an acknowledgement only acknowledges it).
_ANSWERS = frozenset({Response.DENY, Response.ANSWER, Response.DECLINE, Response.ACTION_TAKEN})


class DeadlineState(StrEnum):
    MET = "met"  # a reply logged by the deadline
    LATE = "late"  # a reply, logged after the deadline
    OVERDUE = "overdue"  # no reply in the bundle, and the deadline passed before ``as_of``
    OPEN = "open"  # no reply in the bundle, the deadline not passed (or not known) at ``as_of``


@dataclass(frozen=True, slots=True)
class Row:
    """One verified log entry."""

    index: int
    logged_by: dt.datetime | None
    issued_at: dt.datetime
    author: str
    kind: str
    summary: str
    tlp: str
    sealed: Sealed | None = None  # where the confidential fields went, if they are sealed


@dataclass(frozen=True, slots=True)
class DeadlineStatus:
    """``party`` owes ``duty`` (acknowledge, answer, ping-ack) on ``ref`` to ``owed_to``."""

    ref: str
    party: str
    duty: str
    owed_to: str
    due: dt.datetime | None  # None: not known from the bundle (its agreement is not in it)
    state: DeadlineState
    met_index: int | None = None
    met_logged_by: dt.datetime | None = None
    met_issued_at: dt.datetime | None = None

    @property
    def overdue(self) -> bool:
        return self.state is DeadlineState.OVERDUE


@dataclass(frozen=True, slots=True)
class WitnessTime:
    """A verified cosignature on the final checkpoint: by whom, at what time."""

    witness: str
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Transcript:
    """A bundle that verified, in a form a person can read."""

    subject: Subject
    group: str
    group_title: str
    genesis_digest: bytes  # SHA-256 of the genesis entry: compare with what the parties published
    log_origin: str
    log_vkey: str
    log_key_fingerprint: str  # SHA-256 of the log's verifier key string, hex
    size: int
    root: bytes
    cosignatures: tuple[WitnessTime, ...]
    witness_quorum: int
    as_of: dt.datetime | None
    rows: tuple[Row, ...]
    key_history: tuple[Row, ...]
    deadlines: tuple[DeadlineStatus, ...]
    notes: tuple[str, ...]

    @property
    def overdue(self) -> tuple[DeadlineStatus, ...]:
        return tuple(d for d in self.deadlines if d.overdue)

    def verdict(self) -> str:
        """One line: VALID, how many statements, as of when, what is overdue."""
        when = "no witnessed time" if self.as_of is None else f"as of {format_time(self.as_of)}"
        line = (
            f"VALID: {len(self.rows)} statement(s) about {self.subject.describe()} in log "
            f"{self.log_origin} (size {self.size}), {when}"
        )
        late = self.overdue
        if late:
            owed = ", ".join(f"{d.party} owes {d.duty} on {d.ref}" for d in late)
            return f"{line}; OVERDUE: {owed}"
        return f"{line}; nothing overdue"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sealed_of(statement: Statement) -> Sealed | None:
    """The sealed reference of a statement whose confidential fields are sealed, else None."""
    body = statement.body
    return body.sealed if isinstance(body, SealableBody) else None


def _describe(statement: Statement) -> str:
    body = statement.body
    data = body.model_dump(mode="json", exclude_none=True)
    for name in ("title", "text", "summary", "agenda", "reason"):
        value = data.get(name)
        if isinstance(value, str):
            return _short(value)
    return _short(", ".join(f"{k}={v}" for k, v in sorted(data.items())))


def summarize(statement: Statement) -> str:
    """A one-line, human summary of a statement (sealed content as its hash and recipients)."""
    body = statement.body
    d = body.model_dump(mode="json", exclude_none=True)
    sealed = sealed_of(statement)

    def said(name: str, limit: int = 160) -> str:
        value = d.get(name)
        if isinstance(value, str):
            return _short(value, limit)
        return sealed_note(sealed) if sealed is not None else "-"

    special: dict[str, Callable[[], str]] = {
        "incident.notify": lambda: (
            f"{d['purpose']} to {', '.join(d['to'])} [{d['id']}, severity {d['severity']}"
            + (f", agreement {d['agreement']}" if "agreement" in d else "")
            + (f", norms {', '.join(d['norms'])}" if d["norms"] else "")
            + (f", answer by {d['answer_by']}" if "answer_by" in d else "")
            + (f", {len(d['evidence'])} evidence file(s)" if "evidence" in d else "")
            + f"]: {said('title')}"
        ),
        "incident.respond": lambda: f"{d['response']} on {d['incident']}: {said('text')}",
        "agreement.propose": lambda: (
            f"proposes {d['id']} ({_short(d['title'], 80)}) among {', '.join(d['parties'])} "
            f"on norms {', '.join(d['norms'])}"
        ),
        "agreement.sign": lambda: f"signs {d['agreement']}",
        "agreement.withdraw": lambda: f"withdraws from {d['agreement']}",
        "norm.propose": lambda: f"proposes norm {d['id']}: {_short(d['title'], 100)}",
        "consultation.request": lambda: (
            f"asks {', '.join(d['with_parties'])} to consult [{d['id']}]: {said('agenda')}"
        ),
        "consultation.record": lambda: (
            f"records {d['consultation']} held {d['held_at']} with "
            f"{', '.join(d['participants'])}: {said('summary')}"
        ),
        "sighting.report": lambda: (
            ("observed " if d["observed"] else "did not observe ")
            + (
                _short(", ".join(f"{i['type']} {i['value']}" for i in d["indicators"]), 120)
                if "indicators" in d
                else "indicators"
            )
            + (f" on {d['incident']}" if "incident" in d else "")
            + f" ({d['count']} time(s))"
            + (f": {sealed_note(sealed)}" if sealed is not None else "")
        ),
        "intel.share": lambda: (
            f"shares a STIX bundle ({d['blob'][:12]}, {d['size']} bytes) with "
            + (", ".join(d["to"]) if d["to"] else "the whole group")
            + (f", re-sharing entry {d['derived_from']}" if "derived_from" in d else "")
            + f": {said('title')}"
        ),
        "party.admit": lambda: f"votes to admit {d['party']['id']}",
        "party.rotate-keys": lambda: "rotates its keys",
        "ping": lambda: f"pings {', '.join(d['to'])} [{d['id']}]",
        "ping.ack": lambda: f"acknowledges ping {d['ping']}",
    }
    make = special.get(statement.kind)
    return make() if make is not None else _describe(statement)


def _state(
    due: dt.datetime | None, met: dt.datetime | None, as_of: dt.datetime | None
) -> DeadlineState:
    if met is not None:
        return DeadlineState.LATE if due is not None and met > due else DeadlineState.MET
    if due is not None and as_of is not None and as_of > due:
        return DeadlineState.OVERDUE
    return DeadlineState.OPEN


def deadline_statuses(
    statements: Sequence[tuple[int, Statement]],
    logged_by: Mapping[int, dt.datetime | None],
    *,
    acknowledge_hours: int,
    answer_hours: int,
    as_of: dt.datetime | None,
) -> tuple[DeadlineStatus, ...]:
    """Each duty arising from the notifications and pings in ``statements`` (log order)."""
    agreements = {
        s.body.id: s.body.answer_hours
        for _, s in statements
        if isinstance(s.body, AgreementPropose)
    }
    found: list[DeadlineStatus] = []

    def settle(
        ref: str,
        party: str,
        duty: str,
        owed_to: str,
        due: dt.datetime | None,
        met: tuple[int, Statement] | None,
    ) -> None:
        if met is None:
            found.append(DeadlineStatus(ref, party, duty, owed_to, due, _state(due, None, as_of)))
            return
        index, reply = met
        # Without a witnessed time the reply's own claim is all there is.
        at = logged_by.get(index) or reply.issued_at
        found.append(
            DeadlineStatus(
                ref, party, duty, owed_to, due, _state(due, at, as_of), index, at, reply.issued_at
            )
        )

    for position, (_, statement) in enumerate(statements):
        body = statement.body
        later = statements[position + 1 :]
        if isinstance(body, IncidentNotify):
            issued = statement.issued_at
            acknowledge_by = issued + dt.timedelta(hours=acknowledge_hours)
            answer_by: dt.datetime | None
            if body.answer_by is not None:
                answer_by = body.answer_by
            elif body.agreement is None:
                answer_by = issued + dt.timedelta(hours=answer_hours)
            elif body.agreement in agreements:
                hours = agreements[body.agreement] or answer_hours
                answer_by = issued + dt.timedelta(hours=hours)
            else:
                answer_by = None
            for party in body.to:
                replies = [
                    (i, s)
                    for i, s in later
                    if s.author == party
                    and isinstance(s.body, IncidentRespond)
                    and s.body.incident == body.id
                ]
                ack = next((r for r in replies if _response(r) is not Response.REQUEST_INFO), None)
                answer = next((r for r in replies if _response(r) in _ANSWERS), None)
                settle(body.id, party, "acknowledge", statement.author, acknowledge_by, ack)
                settle(body.id, party, "answer", statement.author, answer_by, answer)
        elif isinstance(body, Ping):
            due = statement.issued_at + dt.timedelta(minutes=body.reply_within_minutes)
            for party in body.to:
                ack_ = next(
                    (
                        (i, s)
                        for i, s in later
                        if s.author == party
                        and isinstance(s.body, PingAck)
                        and s.body.ping == body.id
                    ),
                    None,
                )
                settle(body.id, party, "ping-ack", statement.author, due, ack_)
    return tuple(found)


def _response(reply: tuple[int, Statement]) -> Response | None:
    body = reply[1].body
    return body.response if isinstance(body, IncidentRespond) else None

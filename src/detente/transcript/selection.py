"""Which statements belong to a transcript's subject, and which keys they need.

One rule for both sides: the exporter runs :func:`select` over the whole log, the verifier
runs it over the bundle's statements and checks that every statement in the bundle is
selected (a bundle padded with statements about something else is refused). Neither side
can prove from a bundle alone that nothing was LEFT OUT: that needs the whole log, and the
transcript says so.

- incident ``X``: its ``incident.notify``; every ``incident.respond`` to ``X``; every
  ``consultation.request`` about ``X`` and every ``consultation.record`` of those; the
  lifecycle of the agreement the notification invokes (propose, sign, withdraw); the
  ``norm.propose`` of every group norm the notification or that agreement names.
- agreement ``A``: its propose, signs and withdrawals, and the group norms it names.
- range ``[a, b)``: every entry with ``a <= index < b``.
"""

from __future__ import annotations

from collections.abc import Sequence

from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
    ConsultationRecord,
    ConsultationRequest,
    IncidentNotify,
    IncidentRespond,
    NormPropose,
)
from detente.statements.payload import Statement
from detente.transcript.bundle import Subject

__all__ = ["select"]

Indexed = Sequence[tuple[int, Statement]]


def select(subject: Subject, statements: Indexed) -> frozenset[int]:
    """The indices of ``statements`` (``(index, statement)`` in log order) in ``subject``."""
    if subject.type == "range":
        start, end = subject.start or 0, subject.end or 0
        return frozenset(i for i, _ in statements if start <= i < end)
    if subject.type == "agreement":
        return _agreement(subject.id or "", statements, set())
    return _incident(subject.id or "", statements)


def _agreement(agreement_id: str, statements: Indexed, norms: set[str]) -> frozenset[int]:
    chosen: set[int] = set()
    for index, statement in statements:
        body = statement.body
        if isinstance(body, AgreementPropose) and body.id == agreement_id:
            chosen.add(index)
            norms.update(body.norms)
        elif isinstance(body, AgreementSign | AgreementWithdraw) and body.agreement == agreement_id:
            chosen.add(index)
    chosen.update(_norms(norms, statements))
    return frozenset(chosen)


def _norms(norms: set[str], statements: Indexed) -> set[int]:
    return {i for i, s in statements if isinstance(s.body, NormPropose) and s.body.id in norms}


def _incident(incident_id: str, statements: Indexed) -> frozenset[int]:
    chosen: set[int] = set()
    norms: set[str] = set()
    consultations: set[str] = set()
    agreement: str | None = None
    for index, statement in statements:
        body = statement.body
        if isinstance(body, IncidentNotify) and body.id == incident_id:
            chosen.add(index)
            norms.update(body.norms)
            agreement = body.agreement
        elif isinstance(body, IncidentRespond) and body.incident == incident_id:
            chosen.add(index)
        elif isinstance(body, ConsultationRequest) and body.incident == incident_id:
            chosen.add(index)
            consultations.add(body.id)
        elif isinstance(body, ConsultationRecord) and body.consultation in consultations:
            chosen.add(index)
    if agreement is not None:
        chosen.update(_agreement(agreement, statements, norms))
    else:
        chosen.update(_norms(norms, statements))
    return frozenset(chosen)

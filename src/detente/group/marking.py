"""TLP 2.0 markings, enforced fail-closed by the group rules (private to ``detente.group``).

``judge(state, statement)`` runs for every statement after the common checks and before the
rules of its kind; it refuses, with ``RejectedError``:

- ``not-encrypted``: TLP:AMBER, TLP:AMBER+STRICT or TLP:RED content in the clear. Kinds the
  group rules must read (membership, keys, norms, agreements, pings) cannot be sealed, so they
  are at most TLP:GREEN;
- ``red-needs-recipients``: TLP:RED intelligence shared with "the whole group" instead of
  named parties (TLP:RED is for the named recipients only);
- ``unknown-recipient``, ``author-not-recipient``, ``addressee-cannot-read``: a sealed body
  encrypted to a non-member, not to its own author, or not to a party that must read it (the
  addressees of an incident, a consultation or an intel share; the author of the incident an
  answer or a sighting is about; the invited parties of a consultation being recorded);
- for a statement about a TLP:AMBER or stricter incident or consultation (an answer, a
  consultation about the incident, a sighting for it, the record of a consultation), the same
  rules as for a re-share: it carries that content onward, so it cannot be marked lower
  (``tlp-lowered``) nor be readable by a party the original marking excludes
  (``reshare-excluded``);
- for a re-share (``intel.share`` with ``derived_from``): ``unknown-original``,
  ``not-a-recipient`` (the re-sharer was never given it), ``tlp-lowered`` (the new marking is
  less restrictive than the original) and ``reshare-excluded`` (TLP:AMBER or stricter content
  re-shared to a party the original did not name).

It returns the ``Marking`` to remember for statements of sealable kinds, so later re-shares of
them can be judged. The same checks, given values rather than a state, are ``check_reshare``,
which a node runs before it encrypts or uploads anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from detente.errors import RejectedError
from detente.group.state import GroupState, Marking
from detente.statements.kinds import (
    ConsultationRecord,
    ConsultationRequest,
    IncidentNotify,
    IncidentRespond,
    IntelShare,
    SealableBody,
    SightingReport,
    Tlp,
)
from detente.statements.payload import Statement
from detente.statements.sealing import CONFIDENTIAL_TLP, TLP_ORDER

__all__ = ["check_linked", "check_reshare", "judge", "readers_of"]

_RANK = {tlp: rank for rank, tlp in enumerate(TLP_ORDER)}


def readers_of(statement: Statement) -> tuple[str, ...] | None:
    """Who a statement's content was given to, author included; ``None``: the whole group."""
    body = statement.body
    if isinstance(body, SealableBody) and body.sealed is not None:
        return body.sealed.recipients
    if isinstance(body, IntelShare) and body.to:
        return tuple(sorted({statement.author, *body.to}))
    return None


def judge(state: GroupState, statement: Statement) -> Marking | None:
    """Refuse a statement whose marking does not hold; the marking to remember, if any."""
    body = statement.body
    tlp = statement.tlp
    if not isinstance(body, SealableBody):
        if tlp in CONFIDENTIAL_TLP:
            raise RejectedError(
                "not-encrypted",
                f"a {statement.kind} is read by the group rules, so it cannot be encrypted and "
                f"cannot be TLP:{tlp.value}; mark it TLP:CLEAR or TLP:GREEN",
            )
        return None
    sealed = body.sealed
    if sealed is None and tlp in CONFIDENTIAL_TLP:
        raise RejectedError(
            "not-encrypted",
            f"TLP:{tlp.value} content must be encrypted to its recipients: seal the "
            f"{', '.join(body.CONFIDENTIAL)} of this {statement.kind}",
        )
    if sealed is not None:
        _check_recipients(state, statement, sealed.recipients)
    readers = readers_of(statement)
    about = _about(state, body)
    if about is not None and about[1].tlp in CONFIDENTIAL_TLP:
        what, linked = about
        check_linked(linked, statement.author, tlp, readers, f"a statement about {what}")
    if isinstance(body, IntelShare):
        if tlp is Tlp.RED and not body.to:
            raise RejectedError(
                "red-needs-recipients",
                "TLP:RED is for named recipients only: list the parties to share it with",
            )
        if body.derived_from is not None:
            original = state.markings.get(body.derived_from)
            if original is None:
                raise RejectedError(
                    "unknown-original",
                    f"entry {body.derived_from} is not a statement whose content can be shared",
                )
            check_reshare(original, statement.author, tlp, readers)
    return Marking(statement.author, tlp, readers)


def check_reshare(
    original: Marking, author: str, tlp: Tlp, readers: tuple[str, ...] | None
) -> None:
    """Refuse re-sharing content marked ``original`` by ``author`` as ``tlp`` to ``readers``
    (``None``: the whole group)."""
    check_linked(original, author, tlp, readers, "a re-share")


def check_linked(
    original: Marking, author: str, tlp: Tlp, readers: tuple[str, ...] | None, what: str
) -> None:
    """Refuse ``what`` (a re-share, or a statement about marked content) by ``author``, marked
    ``tlp`` and readable by ``readers`` (``None``: the whole group), where the content it
    carries on is marked ``original``."""
    if original.readers is not None and author not in original.readers:
        raise RejectedError(
            "not-a-recipient",
            f"{author} was not given this content (it went to {', '.join(original.readers)})",
        )
    if _RANK[tlp] < _RANK[original.tlp]:
        raise RejectedError(
            "tlp-lowered",
            f"the original is TLP:{original.tlp.value}; {what} cannot lower it to TLP:{tlp.value}",
        )
    if original.tlp in CONFIDENTIAL_TLP:
        allowed = set(original.readers or ())
        if readers is None:
            raise RejectedError(
                "reshare-excluded",
                f"TLP:{original.tlp.value} content cannot go to the whole group in {what}, "
                f"only to {', '.join(sorted(allowed))}",
            )
        excluded = sorted(set(readers) - allowed)
        if excluded:
            raise RejectedError(
                "reshare-excluded",
                f"TLP:{original.tlp.value} content was shared with {', '.join(sorted(allowed))}; "
                f"its marking excludes {', '.join(excluded)}",
            )


def _check_recipients(state: GroupState, statement: Statement, recipients: Iterable[str]) -> None:
    named = set(recipients)
    for party in sorted(named):
        if not state.is_member(party):
            raise RejectedError(
                "unknown-recipient", f"the content is encrypted to {party}, not a member"
            )
    if statement.author not in named:
        raise RejectedError(
            "author-not-recipient",
            f"sealed content must be encrypted to its author {statement.author} as well",
        )
    missing = sorted(set(_must_read(state, statement)) - named)
    if missing:
        raise RejectedError(
            "addressee-cannot-read",
            f"{', '.join(missing)} must be able to read this sealed {statement.kind} (it is "
            "addressed to them, or about their incident or consultation) but cannot: encrypt "
            "it to them as well",
        )


def _must_read(state: GroupState, statement: Statement) -> tuple[str, ...]:
    """Who must be able to read a sealed statement besides its author."""
    body = statement.body
    if isinstance(body, IncidentNotify):
        return body.to
    if isinstance(body, ConsultationRequest):
        return body.with_parties
    if isinstance(body, IntelShare):
        return body.to
    if isinstance(body, IncidentRespond | SightingReport) and body.incident is not None:
        incident = state.incidents.get(body.incident)
        return () if incident is None else (incident.author,)
    if isinstance(body, ConsultationRecord):
        consultation = state.consultations.get(body.consultation)
        if consultation is None:
            return ()
        return (consultation.author, *consultation.with_parties)
    return ()


def _about(state: GroupState, body: SealableBody) -> tuple[str, Marking] | None:
    """The marked incident or consultation whose content ``body`` carries on, if any."""
    index = None
    if isinstance(body, IncidentRespond | ConsultationRequest | SightingReport):
        incident = None if body.incident is None else state.incidents.get(body.incident)
        if incident is not None:
            what, index = f"incident {incident.id}", incident.index
    elif isinstance(body, ConsultationRecord):
        consultation = state.consultations.get(body.consultation)
        if consultation is not None:
            what, index = f"consultation {consultation.id}", consultation.index
    original = None if index is None else state.markings.get(index)
    return None if original is None else (what, original)

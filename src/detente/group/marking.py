"""TLP 2.0 markings, enforced fail-closed by the group rules (private to ``detente.group``).

``judge(state, statement)`` runs for every statement after the common checks and before the
rules of its kind; it refuses, with ``RejectedError``:

- ``not-encrypted``: TLP:AMBER, TLP:AMBER+STRICT or TLP:RED content in the clear. Kinds the
  group rules must read (membership, keys, norms, agreements, pings) cannot be sealed, so they
  are at most TLP:GREEN;
- ``red-needs-recipients``: TLP:RED intelligence shared with "the whole group" instead of
  named parties (TLP:RED is for the named recipients only);
- ``unknown-recipient``, ``author-not-recipient``, ``addressee-cannot-read``: a sealed body
  encrypted to a non-member, not to its own author, or not to a party it addresses;
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
    ConsultationRequest,
    IncidentNotify,
    IntelShare,
    SealableBody,
    Tlp,
)
from detente.statements.payload import Statement
from detente.statements.sealing import CONFIDENTIAL_TLP, TLP_ORDER

__all__ = ["check_reshare", "judge", "readers_of"]

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
    if original.readers is not None and author not in original.readers:
        raise RejectedError(
            "not-a-recipient",
            f"{author} was not given this content (it went to {', '.join(original.readers)})",
        )
    if _RANK[tlp] < _RANK[original.tlp]:
        raise RejectedError(
            "tlp-lowered",
            f"the original is TLP:{original.tlp.value}; a re-share cannot lower it to "
            f"TLP:{tlp.value}",
        )
    if original.tlp in CONFIDENTIAL_TLP:
        allowed = set(original.readers or ())
        if readers is None:
            raise RejectedError(
                "reshare-excluded",
                f"TLP:{original.tlp.value} content cannot be re-shared with the whole group, "
                f"only with {', '.join(sorted(allowed))}",
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
    missing = sorted(set(_addressed(statement)) - named)
    if missing:
        raise RejectedError(
            "addressee-cannot-read",
            f"the {statement.kind} addresses {', '.join(missing)}, who cannot read its sealed "
            "content: encrypt it to every addressee",
        )


def _addressed(statement: Statement) -> tuple[str, ...]:
    body = statement.body
    if isinstance(body, IncidentNotify):
        return body.to
    if isinstance(body, ConsultationRequest):
        return body.with_parties
    if isinstance(body, IntelShare):
        return body.to
    return ()

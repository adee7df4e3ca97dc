"""What the pages show of sealed content: the opened body when this node can read it, else
who it is sealed to and the ciphertext's hash, never an empty title.

The node opens the sealed statements addressed to it after each sync and keeps the opened
bodies in its own database (``Node.opened(index)``, ``Node.revealed()``); the group state
only holds the public bodies, whose confidential fields are ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from detente.group.state import GroupState, Incident
from detente.group.views import sealed_note
from detente.statements.kinds import Body, Evidence, IncidentNotify, Sealed
from detente.statements.payload import Statement, encode_statement
from detente.transcript.report import sealed_of

__all__ = ["Shown", "body_for_page", "incident_titles", "shown_incident"]


@dataclass(frozen=True, slots=True)
class Shown:
    """An incident's content as a page shows it.

    ``sealed``: where its confidential fields went (None: in the clear); ``opened``: this node
    read them; ``note``: "sealed to blueland, redland: <hash>, N bytes" when sealed.
    """

    title: str
    summary: str | None
    evidence: tuple[Evidence, ...]
    sealed: Sealed | None
    opened: bool

    @property
    def note(self) -> str | None:
        return None if self.sealed is None else sealed_note(self.sealed)


def _sealed_title(incident: Incident) -> str:
    return f"Sealed incident {incident.id}"


def shown_incident(incident: Incident, opened: Body | None) -> Shown:
    """``incident`` with the content of ``opened`` (its whole body, if the node opened it)."""
    if incident.sealed is None:
        return Shown(
            incident.title or incident.id, incident.summary, incident.evidence, None, False
        )
    if isinstance(opened, IncidentNotify) and opened.sealed is None:
        return Shown(
            opened.title or _sealed_title(incident),
            opened.summary,
            opened.evidence or (),
            incident.sealed,
            True,
        )
    return Shown(_sealed_title(incident), None, (), incident.sealed, False)


def incident_titles(state: GroupState, revealed: Mapping[int, Body]) -> dict[str, str]:
    """Every incident's title as this node can read it, by incident id."""
    return {
        incident.id: shown_incident(incident, revealed.get(incident.index)).title
        for incident in state.incidents.values()
    }


def body_for_page(statement: Statement, opened: Body | None) -> dict[str, Any]:
    """The body to show for a logged statement: the opened whole body if there is one, else
    the body as logged (its wire form)."""
    if opened is not None and sealed_of(statement) is not None:
        data: dict[str, Any] = opened.model_dump(mode="json", exclude_none=True)
        return data
    body: dict[str, Any] = json.loads(encode_statement(statement))["body"]
    return body

"""The shipped norms catalogue, and norms in general.

The catalogue (``catalogue.json``, package data) holds the UN GGE 2015 norms 13(a)-(k), the
OSCE cyber confidence-building measures 1-16, the nine principles of the Paris Call and the
eight GCSC norms. Each entry is a paraphrase, not a quotation, with the document it comes
from. A group adds its own norms with ``norm.propose``; those are the same ``Norm`` type with
framework ``GROUP`` and their provenance in the catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from detente.errors import MalformedError, NotFoundError

__all__ = [
    "FRAMEWORKS",
    "GROUP_FRAMEWORK",
    "Norm",
    "catalogue",
    "catalogue_norm",
    "search_norms",
]

#: The frameworks of the shipped catalogue, in the order they are listed.
FRAMEWORKS: tuple[str, ...] = ("UNGGE15", "OSCE", "PARIS", "GCSC")
#: The framework of a norm proposed inside a group.
GROUP_FRAMEWORK = "GROUP"
_STATUSES = frozenset({"consensus", "multistakeholder", "group"})
_FIELDS = ("id", "framework", "number", "title", "paraphrase", "source", "status")


@dataclass(frozen=True, slots=True)
class Norm:
    """One norm: from the catalogue, or proposed in a group (then with its provenance)."""

    id: str
    framework: str
    number: str
    title: str
    paraphrase: str
    source: str
    status: str
    provenance: tuple[str, ...] = ()

    def matches(self, words: Iterable[str]) -> bool:
        """True when every word (lowercase) occurs in the id, title or paraphrase."""
        haystack = f"{self.id} {self.title} {self.paraphrase}".lower()
        return all(word in haystack for word in words)


def _parse(raw: object) -> Norm:
    if not isinstance(raw, dict) or set(raw) != set(_FIELDS):
        raise MalformedError(f"a catalogue norm needs exactly the fields {', '.join(_FIELDS)}")
    values = [raw[name] for name in _FIELDS]
    if not all(isinstance(value, str) and value for value in values):
        raise MalformedError(f"catalogue norm {raw.get('id')!r}: every field is a non-empty string")
    norm = Norm(*values)
    if norm.framework not in FRAMEWORKS or norm.status not in _STATUSES:
        raise MalformedError(f"catalogue norm {norm.id}: unknown framework or status")
    return norm


@cache
def catalogue() -> Mapping[str, Norm]:
    """The shipped catalogue, id -> norm, in catalogue order (loaded once, read-only)."""
    text = resources.files("detente.group").joinpath("catalogue.json").read_text("utf-8")
    document = json.loads(text)
    norms = [_parse(raw) for raw in document["norms"]]
    by_id = {norm.id: norm for norm in norms}
    if len(by_id) != len(norms):
        raise MalformedError("the norms catalogue lists an id twice")
    return MappingProxyType(by_id)


def catalogue_norm(norm_id: str) -> Norm:
    """The catalogue norm with this id; NotFoundError if there is none."""
    norm = catalogue().get(norm_id)
    if norm is None:
        raise NotFoundError(f"no norm {norm_id!r} in the catalogue")
    return norm


def search_norms(text: str, norms: Iterable[Norm] | None = None) -> tuple[Norm, ...]:
    """Norms whose id, title or paraphrase contain every word of ``text`` (case-insensitive).

    Searches the catalogue unless ``norms`` is given (for instance the catalogue and a group's
    own norms, see ``detente.group.views.all_norms``). Empty text matches every norm.
    """
    words = text.lower().split()
    pool = catalogue().values() if norms is None else norms
    return tuple(norm for norm in pool if norm.matches(words))

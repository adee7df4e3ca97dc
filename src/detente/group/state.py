"""The state of a group: everything the log has said so far, as immutable values.

Every part is a frozen dataclass; collections that grow with the log are persistent maps
(``immutables.Map``, a hash array mapped trie written in C) and vectors (``pyrsistent``), so
``detente.group.rules.apply`` builds a new state by path copying (O(log n)) and the old state
stays valid and unchanged. Small bounded collections (an agreement's parties, a party's keys)
are tuples. ``GroupState.digest()`` hashes a canonical encoding of the whole state, so two
replays of the same log can be compared with one value.

Indexes are log entry indexes (genesis is entry 0); times are the ``issued_at`` of the
statements, never the clock of whoever applies them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum, StrEnum
from operator import attrgetter
from typing import Any, TypeVar, cast

from immutables import Map
from pydantic import BaseModel
from pyrsistent import PVector

from detente.group.norms import Norm
from detente.statements.kinds import (
    Contact,
    ContactRole,
    Evidence,
    Indicator,
    Pap,
    Purpose,
    Response,
    Sealed,
    Severity,
    Tlp,
    WitnessKey,
    format_time,
)

__all__ = [
    "Admission",
    "Agreement",
    "AgreementStatus",
    "Consultation",
    "EncryptionKey",
    "GroupState",
    "Head",
    "Incident",
    "IntelRecord",
    "KeyPeriod",
    "Marking",
    "Meeting",
    "Party",
    "PingState",
    "Reply",
    "Sighting",
]

_DIGEST_DOMAIN = b"detente group state v1\n"


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """A signing key and the entries it was valid for (inclusive; ``None``: still valid)."""

    key: bytes
    key_id: str
    valid_from: int
    valid_until: int | None = None


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """An age recipient of a party, valid from entry ``valid_from`` until the next one."""

    recipient: str
    valid_from: int


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    keys: tuple[KeyPeriod, ...]  # every signing key it ever had; the current one is last
    encryption_keys: tuple[EncryptionKey, ...]  # likewise
    joined_at: int
    contacts: tuple[Contact, ...] = ()
    contacts_updated_at: dt.datetime | None = None
    left_at: int | None = None

    @property
    def signing_key(self) -> bytes:
        return self.keys[-1].key

    @property
    def encryption_key(self) -> str:
        return self.encryption_keys[-1].recipient

    @property
    def left(self) -> bool:
        return self.left_at is not None


@dataclass(frozen=True, slots=True)
class Head:
    """The last statement of one author: the chain the next one must extend."""

    seq: int
    entry_hash: bytes
    issued_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Admission:
    """Votes so far to admit a party with exactly these keys."""

    party_id: str
    name: str
    signing_key: bytes
    encryption_key: str
    voters: tuple[str, ...]


class AgreementStatus(StrEnum):
    PROPOSED = "proposed"
    IN_FORCE = "in-force"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"  # a listed party left the group


@dataclass(frozen=True, slots=True)
class Agreement:
    id: str
    title: str
    proposer: str
    norms: tuple[str, ...]
    parties: tuple[str, ...]
    answer_hours: int | None
    proposed_at: int
    signatures: Map[str, int]  # party -> entry index of its signature
    in_force_at: int | None = None
    withdrawn_by: str | None = None
    withdrawn_at: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    index: int
    author: str
    response: Response
    text: str | None  # None: sealed
    issued_at: dt.datetime
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    author: str
    index: int
    purpose: Purpose
    to: tuple[str, ...]
    title: str | None  # None: sealed (so is the summary; the evidence is then empty)
    summary: str | None
    severity: Severity
    tlp: Tlp
    agreement: str | None
    norms: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    issued_at: dt.datetime
    acknowledge_by: dt.datetime
    answer_by: dt.datetime
    acknowledged: Map[str, dt.datetime]  # addressee -> first acknowledgement (or answer)
    answered: Map[str, dt.datetime]  # addressee -> first substantive answer
    thread: PVector[Reply]
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    index: int
    author: str
    held_at: dt.datetime
    participants: tuple[str, ...]
    summary: str | None  # None: sealed
    outcome: str | None
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class Consultation:
    id: str
    author: str
    index: int
    with_parties: tuple[str, ...]
    agenda: str | None  # None: sealed
    incident: str | None
    proposed_times: tuple[dt.datetime, ...]
    issued_at: dt.datetime
    records: PVector[Meeting]
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class PingState:
    id: str
    author: str
    index: int
    to: tuple[str, ...]
    role: ContactRole
    issued_at: dt.datetime
    reply_by: dt.datetime
    acks: Map[str, dt.datetime]  # addressee -> issued_at of its ack


@dataclass(frozen=True, slots=True)
class Sighting:
    index: int
    author: str
    incident: str | None
    indicators: tuple[Indicator, ...]  # empty: sealed
    observed: bool
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    count: int
    issued_at: dt.datetime
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class IntelRecord:
    index: int
    author: str
    blob: bytes
    size: int
    media_type: str
    title: str | None  # None: sealed
    to: tuple[str, ...]  # empty: the whole group
    tlp: Tlp
    pap: Pap | None
    issued_at: dt.datetime
    derived_from: int | None = None
    sealed: Sealed | None = None


@dataclass(frozen=True, slots=True)
class Marking:
    """How a logged statement's content is marked, kept for the rules on re-sharing it.

    ``readers`` are the parties it was shared with, its author included (the recipients of a
    sealed body, or the named addressees of an intel share); ``None``: the whole group.
    """

    author: str
    tlp: Tlp
    readers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class GroupState:
    """The whole state of a group after ``size`` log entries (see ``detente.group.rules``)."""

    name: str  # the group slug every statement names
    title: str
    description: str | None
    genesis_hash: bytes
    log_origin: str
    log_vkey: str
    witnesses: tuple[WitnessKey, ...]
    witness_quorum: int
    admission_quorum: int
    acknowledge_hours: int
    answer_hours: int
    size: int  # entries applied, genesis included
    parties: Map[str, Party]
    key_owners: Map[bytes, str]  # every signing key ever used -> its party
    heads: Map[str, Head]
    applied: Map[bytes, int]  # entry hash -> entry index
    admissions: Map[str, Admission]
    norms: Map[str, Norm]  # the group's own norms (the catalogue is in detente.group.norms)
    agreements: Map[str, Agreement]
    incidents: Map[str, Incident]
    consultations: Map[str, Consultation]
    pings: Map[str, PingState]
    sightings: PVector[Sighting]
    intel: PVector[IntelRecord]
    markings: Map[int, Marking]  # entry index -> marking, for statements of sealable kinds

    def is_member(self, party_id: str) -> bool:
        """True for a party admitted and not left."""
        party = self.parties.get(party_id)
        return party is not None and not party.left

    def agreement_status(self, agreement: Agreement) -> AgreementStatus:
        """In force when every listed party signed, none withdrew and none left the group."""
        if agreement.withdrawn_by is not None:
            return AgreementStatus.WITHDRAWN
        if any(not self.is_member(party) for party in agreement.parties):
            return AgreementStatus.LAPSED
        if agreement.in_force_at is None:
            return AgreementStatus.PROPOSED
        return AgreementStatus.IN_FORCE

    def canonical(self) -> bytes:
        """The canonical encoding of the whole state (sorted-key compact JSON, UTF-8)."""
        return _encode(self).encode()

    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding: equal for any two replays of the same log."""
        return hashlib.sha256(_DIGEST_DOMAIN + self.canonical()).digest()


_T = TypeVar("_T")
_REPLACERS: dict[type, Callable[[Any, dict[str, object]], Any]] = {}


def _replace(obj: _T, /, **changes: object) -> _T:
    """``dataclasses.replace`` for the frozen dataclasses of this module, without going
    through ``__init__`` (none of them checks anything there): the state is copied once per
    statement, so this is on the hot path of every replay."""
    replacer = _REPLACERS.get(type(obj))
    if replacer is None:
        replacer = _REPLACERS.setdefault(type(obj), _replacer(type(obj)))
    return cast(_T, replacer(obj, changes))


def _replacer(cls: type) -> Callable[[Any, dict[str, object]], Any]:
    """A copying function written out for ``cls``: one line per field, no loop (about twice
    as fast as looping over the field names for the 27 fields of ``GroupState``)."""
    names = [f.name for f in fields(cls)]
    lines = ["def replace(obj, changes):", "    new = _new(cls)"]
    lines += [
        f"    _set(new, {n!r}, changes.pop({n!r}) if {n!r} in changes else obj.{n})" for n in names
    ]
    lines += ["    if changes:", "        _unknown(cls, changes)", "    return new"]
    scope: dict[str, Any] = {
        "_new": object.__new__,
        "_set": object.__setattr__,
        "_unknown": _unknown_fields,
        "cls": cls,
    }
    exec("\n".join(lines), scope)  # noqa: S102  (our own text: field names of our classes)
    return cast(Callable[[Any, dict[str, object]], Any], scope["replace"])


def _unknown_fields(cls: type, changes: dict[str, object]) -> None:
    raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(changes))}")


# -- the canonical encoding ---------------------------------------------------------------
#
# ``GroupState.canonical()`` is the JSON text ``json.dumps(_plain(state), sort_keys=True,
# separators=(",", ":"), ensure_ascii=False)`` (``_plain`` below is that definition), written
# without building the intermediate dicts and lists: one encoder per type, chosen by the same
# tests in the same order as ``_plain``, each returning the exact text ``json.dumps`` writes
# for that part. A dataclass's fields are read from the class (``dataclasses.fields``), so a
# field added to any of them is encoded without a change here.

_Encoder = Callable[[Any], str]
_ENCODERS: dict[type, _Encoder] = {}
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_quote = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False


def _encode(value: object) -> str:
    """``json.dumps(_plain(value), sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``, faster."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _encoder_for(type(value))
    return encoder(value)


def _encoder_for(cls: type) -> _Encoder:
    # The tests of ``_plain``, in its order, asked of the type: every one of them depends on
    # the type alone.
    encoder: _Encoder
    if cls is type(None):
        encoder = _encode_null
    elif issubclass(cls, bool | int | str):
        if issubclass(cls, Enum):
            encoder = _encode_enum
        elif issubclass(cls, bool):
            encoder = _encode_bool
        elif issubclass(cls, int):
            encoder = int.__repr__
        else:
            encoder = _quote
    elif issubclass(cls, bytes):
        encoder = _encode_bytes
    elif issubclass(cls, dt.datetime):
        encoder = _encode_time
    elif issubclass(cls, BaseModel):
        encoder = _encode_model
    elif is_dataclass(cls) and not issubclass(cls, type):
        encoder = _dataclass_encoder(cls)
    elif issubclass(cls, Mapping):
        encoder = _encode_mapping
    elif issubclass(cls, Sequence):
        encoder = _encode_sequence
    else:
        raise TypeError(f"no canonical encoding for {cls.__name__}")
    _ENCODERS[cls] = encoder
    return encoder


def _encode_null(value: None) -> str:
    return "null"


def _encode_bool(value: bool) -> str:
    return "true" if value else "false"


def _encode_enum(value: Enum) -> str:
    return _encode(value.value)


def _encode_bytes(value: bytes) -> str:
    return f'"{value.hex()}"'  # hex digits need no escape


def _encode_time(value: dt.datetime) -> str:
    return _quote(format_time(value))


def _encode_model(value: BaseModel) -> str:
    return _JSON.encode(value.model_dump(mode="json", exclude_none=True))


def _encode_mapping(value: Mapping[object, object]) -> str:
    # A dict first, as ``_plain`` builds it (two keys with one spelling: the last one wins).
    plain = {_key(key): item for key, item in value.items()}
    return (
        "{"
        + ",".join([f"{_quote(key)}:{_encode(item)}" for key, item in sorted(plain.items())])
        + "}"
    )


def _encode_sequence(value: Sequence[object]) -> str:
    return "[" + ",".join([_encode(item) for item in value]) + "]"


def _dataclass_encoder(cls: type) -> _Encoder:
    names = sorted(f.name for f in fields(cls))
    if not names:
        return lambda value: "{}"
    template = "{" + ",".join(_quote(name).replace("%", "%%") + ":%s" for name in names) + "}"
    if len(names) == 1:
        name = names[0]
        return lambda value: template % _encode(getattr(value, name))
    get = attrgetter(*names)
    return lambda value: template % tuple([_encode(item) for item in get(value)])


def _plain(value: object) -> object:
    """A JSON value for any part of the state; refuses anything it does not know."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    raise TypeError(f"no canonical encoding for {type(value).__name__}")


def _key(key: object) -> str:
    if isinstance(key, bytes):
        return key.hex()
    if isinstance(key, str):
        return key
    if type(key) is int:  # entry indexes (JSON object keys are strings)
        return str(key)
    raise TypeError(f"no canonical encoding for a {type(key).__name__} key")

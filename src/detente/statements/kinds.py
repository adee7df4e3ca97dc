"""The bodies of Detente statements, one frozen model per kind.

Every model refuses unknown fields and wrong types (pydantic strict mode). Wire forms:
hashes are lowercase hex of 32 bytes (``bytes`` in Python), public signing keys standard
base64 of the raw 32-byte Ed25519 key (``bytes`` in Python), times RFC 3339 UTC with a ``Z``
and whole seconds. Optional fields are absent when unset, never ``null``: the canonical form of
a payload (see ``detente.statements.payload``) leaves ``None`` out, so a payload that writes
``null`` is not canonical and is refused.

Which statements are allowed, by whom and when is not decided here: that is the group rules
(``detente.group``). These models only say what a well-formed body looks like.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

__all__ = [
    "BODY_TYPES",
    "KINDS",
    "AgreementPropose",
    "AgreementSign",
    "AgreementWithdraw",
    "Body",
    "ConsultationRecord",
    "ConsultationRequest",
    "Contact",
    "ContactRole",
    "ContactUpdate",
    "DeadlinePolicy",
    "Evidence",
    "GroupGenesis",
    "IncidentNotify",
    "IncidentRespond",
    "Indicator",
    "IntelShare",
    "NormPropose",
    "Pap",
    "PartyAdmit",
    "PartyKeys",
    "PartyLeave",
    "PartyRotateKeys",
    "Ping",
    "PingAck",
    "Purpose",
    "Response",
    "SealableBody",
    "Sealed",
    "Severity",
    "SightingReport",
    "Tlp",
    "WitnessKey",
    "format_time",
    "parse_time",
]

_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$|^[a-z0-9]$"
_PARTY = r"^[a-z][a-z0-9-]{1,31}$"
_NORM = r"^[A-Z][A-Z0-9]*(-[A-Za-z0-9]+)+$"
# ASCII digits only: ``\d`` would also take other scripts' digits ("٢٠٢٦"), which int() reads,
# giving a second spelling of the same time.
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def parse_time(value: object) -> dt.datetime:
    """RFC 3339 UTC with a ``Z`` and whole seconds (``2026-11-27T21:00:00Z``)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() != dt.timedelta(0) or value.microsecond:
            raise ValueError("times must be UTC with whole seconds")
        return value.astimezone(dt.UTC)
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("times must look like 2026-11-27T21:00:00Z (UTC, whole seconds)")
    # datetime() refuses out-of-range fields (month 13, second 60) with a ValueError.
    year, month, day, hour, minute, second = map(int, match.groups())
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def format_time(value: dt.datetime) -> str:
    # Not strftime: its %Y does not pad years below 1000 to four digits on every platform.
    utc = value.astimezone(dt.UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def _hex32(value: object) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        raw = bytes.fromhex(value)
    else:
        raise ValueError("a hash must be 64 lowercase hex digits (SHA-256)")
    if len(raw) != 32:
        raise ValueError("a hash must be 32 bytes")
    return raw


def _key32(value: object) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("a public key must be standard base64") from exc
        if base64.b64encode(raw).decode() != value:
            raise ValueError("a public key must be canonical base64")
    else:
        raise ValueError("a public key must be a base64 string")
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return raw


#: A SHA-256 hash: ``bytes`` in Python, 64 lowercase hex digits on the wire.
Hash = Annotated[
    bytes,
    BeforeValidator(_hex32),
    PlainSerializer(lambda b: b.hex(), return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
]
#: A raw Ed25519 public key: ``bytes`` in Python, base64 on the wire.
PublicKey = Annotated[
    bytes,
    BeforeValidator(_key32),
    PlainSerializer(lambda b: base64.b64encode(b).decode(), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
#: RFC 3339 UTC time with whole seconds.
Time = Annotated[
    dt.datetime,
    BeforeValidator(parse_time),
    PlainSerializer(format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
#: An age X25519 recipient (``age1...``, Bech32); checked fully where it is used to encrypt.
AgeRecipient = Annotated[str, Field(pattern=r"^age1[02-9ac-hj-np-z]{58}$")]
Slug = Annotated[str, Field(pattern=_SLUG)]
PartyId = Annotated[str, Field(pattern=_PARTY)]
NormId = Annotated[str, Field(pattern=_NORM, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=8000)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Parties = Annotated[tuple[PartyId, ...], Field(min_length=1, max_length=64)]


class Tlp(StrEnum):
    """FIRST TLP 2.0."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


class Pap(StrEnum):
    """Permissible Actions Protocol (MISP/TheHive community)."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    RED = "RED"


class Purpose(StrEnum):
    NOTIFICATION = "notification"
    REQUEST_FOR_INFORMATION = "request-for-information"
    REQUEST_FOR_ASSISTANCE = "request-for-assistance"
    REQUEST_FOR_MITIGATION = "request-for-mitigation"
    ALLEGATION = "allegation"


class Response(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DENY = "deny"
    ANSWER = "answer"
    DECLINE = "decline"
    ACTION_TAKEN = "action-taken"
    REQUEST_INFO = "request-info"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ContactRole(StrEnum):
    DIPLOMATIC = "diplomatic"
    TECHNICAL = "technical"
    POLICY = "policy"
    LAW_ENFORCEMENT = "law-enforcement"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Body(_Model):
    """Base of every statement body."""


class Sealed(_Model):
    """Where a body's confidential fields went: an age v1 file encrypted to ``recipients``.

    ``blob`` is the SHA-256 of the ciphertext (the age file, stored on the hub as a blob) and
    ``size`` its length in bytes, so the log commits to exactly what was sent. ``recipients``
    are the parties it is encrypted to, the author included, sorted and each named once.
    What the ciphertext holds is described in ``detente.statements.sealing``.
    """

    blob: Hash
    size: Annotated[int, Field(ge=1)]
    recipients: Annotated[tuple[PartyId, ...], Field(min_length=1, max_length=64)]

    @field_validator("recipients")
    @classmethod
    def _sorted_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError("recipients must be sorted, each named once")
        return value


class SealableBody(Body):
    """A body whose confidential fields may be sealed (encrypted to named recipients).

    Unsealed, the body carries every field and ``sealed`` is absent. Sealed, the fields in
    ``CONFIDENTIAL`` are absent (they are inside the ciphertext) and ``sealed`` says where the
    ciphertext is; the other fields stay readable, so the group rules (addressees, deadlines,
    allegations) hold for confidential statements too. ``REQUIRED`` are the confidential
    fields an unsealed body must have.
    """

    CONFIDENTIAL: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    sealed: Sealed | None = None

    @model_validator(mode="after")
    def _sealing(self) -> Self:
        if self.sealed is None:
            missing = [name for name in self.REQUIRED if getattr(self, name) is None]
            if missing:
                raise ValueError(f"{', '.join(missing)} required (the body is not sealed)")
        else:
            present = [name for name in self.CONFIDENTIAL if getattr(self, name) is not None]
            if present:
                raise ValueError(
                    f"a sealed body leaves out {', '.join(present)} (they are in the ciphertext)"
                )
        return self


# -- shared parts ---------------------------------------------------------------------------


class PartyKeys(_Model):
    """A party's identity and keys: Ed25519 for signing, age X25519 for encryption."""

    id: PartyId
    name: Title
    signing_key: PublicKey
    encryption_key: AgeRecipient


class WitnessKey(_Model):
    """A witness trusted by the group: its cosignature/v1 verifier key, and where to reach it."""

    vkey: Annotated[str, Field(min_length=1, max_length=400)]
    url: Annotated[str, Field(max_length=400)] | None = None


class DeadlinePolicy(_Model):
    """Default answer deadlines, in hours after a notification is issued."""

    acknowledge_hours: Annotated[int, Field(ge=1, le=24 * 365)]
    answer_hours: Annotated[int, Field(ge=1, le=24 * 365)]


class Contact(_Model):
    role: ContactRole
    name: Title
    title: Title | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{3,32}$")] | None = None


class Evidence(_Model):
    """A reference to an evidence file, by the hash of its content.

    ``sha256`` and ``size`` are those of the file itself (the plaintext), so a recipient
    checks it got exactly the file the author meant. ``blob``, when present, is the SHA-256
    of the age ciphertext of the file stored on the hub (encrypted to the incident's
    readers); absent, the file is held out of band.
    """

    sha256: Hash
    name: Title
    media_type: Annotated[str, Field(min_length=3, max_length=200)]
    size: Annotated[int, Field(ge=0)]
    blob: Hash | None = None


class Indicator(_Model):
    """An indicator of compromise, typed as a STIX 2.1 cyber-observable type."""

    type: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,40}$")]
    value: Annotated[str, Field(min_length=1, max_length=2048)]


# -- the kinds ------------------------------------------------------------------------------


class GroupGenesis(Body):
    """Founds the group; signed by every founding party."""

    name: Title
    description: Text | None = None
    parties: Annotated[tuple[PartyKeys, ...], Field(min_length=1, max_length=64)]
    log_origin: Annotated[str, Field(min_length=1, max_length=255)]
    log_vkey: Annotated[str, Field(min_length=1, max_length=400)]
    witnesses: Annotated[tuple[WitnessKey, ...], Field(max_length=32)]
    witness_quorum: Annotated[int, Field(ge=0)]
    admission_quorum: Annotated[int, Field(ge=1)]
    deadlines: DeadlinePolicy


class PartyAdmit(Body):
    """A member's vote to admit a new party; it joins at the admission quorum."""

    party: PartyKeys


class PartyRotateKeys(Body):
    """New keys for the author; signed by the current key and by the new signing key."""

    signing_key: PublicKey
    encryption_key: AgeRecipient


class PartyLeave(Body):
    reason: Text | None = None


class ContactUpdate(Body):
    """The author's points of contact (replaces the previous list)."""

    contacts: Annotated[tuple[Contact, ...], Field(max_length=32)]


class NormPropose(Body):
    """A group-specific norm, with its provenance in the shipped catalogue."""

    id: NormId
    title: Title
    text: Text
    provenance: Annotated[tuple[NormId, ...], Field(max_length=16)]


class AgreementPropose(Body):
    """An agreement among ``parties`` to uphold ``norms``; proposing it counts as signing."""

    id: Slug
    title: Title
    norms: Annotated[tuple[NormId, ...], Field(min_length=1, max_length=64)]
    parties: Parties
    answer_hours: Annotated[int, Field(ge=1, le=24 * 365)] | None = None


class AgreementSign(Body):
    agreement: Slug


class AgreementWithdraw(Body):
    agreement: Slug
    reason: Text | None = None


class IncidentNotify(SealableBody):
    """An incident addressed to parties, with a purpose; an allegation names broken norms."""

    id: Slug
    purpose: Purpose
    to: Parties
    title: Title | None = None
    summary: Text | None = None
    severity: Severity
    agreement: Slug | None = None
    norms: Annotated[tuple[NormId, ...], Field(max_length=32)]
    evidence: Annotated[tuple[Evidence, ...], Field(max_length=256)] | None = None
    answer_by: Time | None = None

    CONFIDENTIAL = ("title", "summary", "evidence")
    REQUIRED = ("title", "summary", "evidence")


class IncidentRespond(SealableBody):
    incident: Slug
    response: Response
    text: Text | None = None

    CONFIDENTIAL = ("text",)
    REQUIRED = ("text",)


class ConsultationRequest(SealableBody):
    id: Slug
    with_parties: Parties
    agenda: Text | None = None
    incident: Slug | None = None
    proposed_times: Annotated[tuple[Time, ...], Field(max_length=16)]

    CONFIDENTIAL = ("agenda",)
    REQUIRED = ("agenda",)


class ConsultationRecord(SealableBody):
    consultation: Slug
    held_at: Time
    participants: Parties
    summary: Text | None = None
    outcome: Text | None = None

    CONFIDENTIAL = ("summary", "outcome")
    REQUIRED = ("summary",)


class SightingReport(SealableBody):
    """Whether the author observed the given indicators, when and how often."""

    incident: Slug | None = None
    indicators: Annotated[tuple[Indicator, ...], Field(min_length=1, max_length=1024)] | None = None
    observed: bool
    first_seen: Time | None = None
    last_seen: Time | None = None
    count: Annotated[int, Field(ge=0)]

    CONFIDENTIAL = ("indicators",)
    REQUIRED = ("indicators",)


class IntelShare(SealableBody):
    """A STIX 2.1 bundle shared as an (age-encrypted) blob, referenced by its hash.

    ``to`` names the parties it is shared with (empty: the whole group). ``derived_from`` is
    the log index of the statement whose content this re-shares: the group rules then hold the
    re-share to that statement's marking (no lower TLP, no party the marking excludes).
    """

    blob: Hash
    size: Annotated[int, Field(ge=0)]
    media_type: Literal["application/stix+json;version=2.1"]
    title: Title | None = None
    to: Annotated[tuple[PartyId, ...], Field(max_length=64)]
    derived_from: Annotated[int, Field(ge=1)] | None = None

    CONFIDENTIAL = ("title",)
    REQUIRED = ("title",)


class Ping(Body):
    """A liveness test of the addressees' points of contact."""

    id: Slug
    to: Parties
    role: ContactRole
    reply_within_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)]


class PingAck(Body):
    ping: Slug


#: Every statement kind and its body model.
BODY_TYPES: dict[str, type[Body]] = {
    "group.genesis": GroupGenesis,
    "party.admit": PartyAdmit,
    "party.rotate-keys": PartyRotateKeys,
    "party.leave": PartyLeave,
    "contact.update": ContactUpdate,
    "norm.propose": NormPropose,
    "agreement.propose": AgreementPropose,
    "agreement.sign": AgreementSign,
    "agreement.withdraw": AgreementWithdraw,
    "incident.notify": IncidentNotify,
    "incident.respond": IncidentRespond,
    "consultation.request": ConsultationRequest,
    "consultation.record": ConsultationRecord,
    "sighting.report": SightingReport,
    "intel.share": IntelShare,
    "ping": Ping,
    "ping.ack": PingAck,
}
KINDS: tuple[str, ...] = tuple(BODY_TYPES)

"""The statement inside an envelope, and log entries (signed statements).

A payload is the canonical JSON of one ``Statement``::

    {"author":"ministry-a","body":{...},"group":"cbm-east","issued_at":"2026-11-27T21:00:00Z",
     "kind":"incident.notify","pap":"AMBER","prev":"<64 hex>","seq":7,"tlp":"AMBER"}

``pap`` and ``prev`` are left out when unset (never ``null``). ``parse_statement`` accepts only
that one spelling, so ``encode_statement(parse_statement(p)) == p`` for every accepted ``p``,
and an entry's hash names exactly one statement.

Shape rules that need no group state are checked here too: the genesis (and only it) has
``seq`` 0 and is authored by its first founder; ``prev`` is present exactly when ``seq`` > 1.
Whether the author may say this, now, in this group, is ``detente.group``'s business.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from detente.errors import MalformedError, TooLargeError
from detente.statements._canonical import check_fields, dumps, load_json
from detente.statements.envelope import MAX_ENTRY_SIZE, Envelope, sign_envelope
from detente.statements.kinds import (
    _PARTY,
    _SLUG,
    BODY_TYPES,
    Body,
    GroupGenesis,
    Pap,
    Tlp,
    format_time,
    parse_time,
)

__all__ = [
    "GENESIS_KIND",
    "MAX_SEQ",
    "SignedStatement",
    "Statement",
    "encode_statement",
    "entry_hash",
    "make_entry",
    "open_entry",
    "parse_statement",
]

GENESIS_KIND = "group.genesis"
#: The largest sequence number (fits a signed 64-bit database column).
MAX_SEQ = 2**63 - 1

_REQUIRED = frozenset({"author", "body", "group", "issued_at", "kind", "seq", "tlp"})
_ALLOWED = _REQUIRED | {"pap", "prev"}
_SLUG_RE = re.compile(_SLUG)
_PARTY_RE = re.compile(_PARTY)
_HEX32 = re.compile(r"[0-9a-f]{64}")
_TLP = {t.value: t for t in Tlp}
_PAP = {p.value: p for p in Pap}
_MAX_ERRORS = 3
# The canonical layout of a payload, for the fast path of ``parse_statement``: a payload that
# matches is parsed from it directly (and still re-encoded and compared byte for byte); any
# other goes through the strict parser, which says what is wrong. Keys sort as
# author < body < group < issued_at < kind < pap < prev < seq < tlp.
_CANONICAL = re.compile(
    rb'\{"author":"([a-z][a-z0-9-]{1,31})","body":(\{.*\}),'
    rb'"group":"([a-z0-9][a-z0-9-]{0,62}[a-z0-9]|[a-z0-9])",'
    rb'"issued_at":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)",'
    rb'"kind":"([a-z.-]{1,64})",(?:"pap":"([A-Z]{1,16})",)?(?:"prev":"([0-9a-f]{64})",)?'
    rb'"seq":(0|[1-9][0-9]{0,18}),"tlp":"([A-Z+]{1,16})"\}'
)
_KIND_BY_BYTES = {kind.encode(): (kind, body_type) for kind, body_type in BODY_TYPES.items()}
_TLP_BY_BYTES = {t.value.encode(): t for t in Tlp}
_PAP_BY_BYTES = {p.value.encode(): p for p in Pap}


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement by one party, before signing. Construction checks every invariant."""

    kind: str
    group: str
    author: str
    seq: int
    prev: bytes | None
    issued_at: dt.datetime
    tlp: Tlp
    pap: Pap | None
    body: Body

    def __post_init__(self) -> None:
        self._check_values()
        self._check_shape()

    @classmethod
    def _from_layout(
        cls,
        kind: str,
        group: str,
        author: str,
        seq: int,
        prev: bytes | None,
        issued_at: dt.datetime,
        tlp: Tlp,
        pap: Pap | None,
        body: Body,
    ) -> Statement:
        """For ``_parse_canonical`` only: each value read from the canonical layout, whose
        patterns and lookup tables already give it the type and form ``_check_values`` asks
        for (the kind's own body type, a slug, a party id, a UTC time in whole seconds, 32
        bytes); only the rules between fields (``_check_shape``) are left to check."""
        statement = object.__new__(cls)
        for name, value in (
            ("kind", kind),
            ("group", group),
            ("author", author),
            ("seq", seq),
            ("prev", prev),
            ("issued_at", issued_at),
            ("tlp", tlp),
            ("pap", pap),
            ("body", body),
        ):
            object.__setattr__(statement, name, value)
        statement._check_shape()
        return statement

    def _check_values(self) -> None:
        body_type = BODY_TYPES.get(self.kind) if isinstance(self.kind, str) else None
        if body_type is None:
            raise MalformedError(f"unknown statement kind {self.kind!r}")
        if type(self.body) is not body_type:
            raise MalformedError(
                f"the body of {self.kind} must be a {body_type.__name__}, "
                f"not {type(self.body).__name__}"
            )
        if not isinstance(self.group, str) or not _SLUG_RE.fullmatch(self.group):
            raise MalformedError(f"field 'group' must be a slug, not {self.group!r}")
        if not isinstance(self.author, str) or not _PARTY_RE.fullmatch(self.author):
            raise MalformedError(f"field 'author' must be a party id, not {self.author!r}")
        if not isinstance(self.tlp, Tlp):
            raise MalformedError(f"field 'tlp' must be a Tlp, not {self.tlp!r}")
        if self.pap is not None and not isinstance(self.pap, Pap):
            raise MalformedError(f"field 'pap' must be a Pap, not {self.pap!r}")
        at = self.issued_at
        if not isinstance(at, dt.datetime) or at.utcoffset() != dt.timedelta(0) or at.microsecond:
            raise MalformedError(f"field 'issued_at' must be UTC with whole seconds, not {at!r}")
        if self.prev is not None and (not isinstance(self.prev, bytes) or len(self.prev) != 32):
            raise MalformedError("field 'prev' must be a 32-byte SHA-256 hash")

    def _check_shape(self) -> None:
        _check_seq(self.seq)
        genesis = self.kind == GENESIS_KIND
        if genesis != (self.seq == 0):
            raise MalformedError(
                f"seq 0 is the genesis and only the genesis: {self.kind} with seq {self.seq}"
            )
        if (self.prev is None) != (self.seq <= 1):
            raise MalformedError(
                f"field 'prev' is required for seq > 1 and absent otherwise (seq {self.seq})"
            )
        if isinstance(self.body, GroupGenesis) and self.body.parties[0].id != self.author:
            raise MalformedError(
                f"the genesis author must be its first founder "
                f"{self.body.parties[0].id!r}, not {self.author!r}"
            )


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A log entry (the envelope's canonical bytes), its envelope and its statement.

    Made only by ``open_entry`` and ``make_entry``; signatures are NOT verified here.
    """

    entry: bytes
    envelope: Envelope
    statement: Statement


def entry_hash(entry: bytes) -> bytes:
    """SHA-256 of a log entry's bytes: what the author's next ``prev`` points to."""
    return hashlib.sha256(entry).digest()


def encode_statement(statement: Statement) -> bytes:
    """The canonical payload bytes of ``statement``."""
    # What dumps() writes for the whole object, spelled out around the body: every other
    # value is a slug, party id, kind, enum value, time, hex or integer, which a Statement
    # only holds in forms JSON writes without escapes; keys in sorted order.
    body = dumps(statement.body.model_dump(mode="json", exclude_none=True))
    pap = "" if statement.pap is None else f'"pap":"{statement.pap.value}",'
    prev = "" if statement.prev is None else f'"prev":"{statement.prev.hex()}",'
    text = (
        f'{{"author":"{statement.author}","body":{body},"group":"{statement.group}",'
        f'"issued_at":"{format_time(statement.issued_at)}","kind":"{statement.kind}",'
        f'{pap}{prev}"seq":{statement.seq},"tlp":"{statement.tlp.value}"}}'
    )
    return text.encode("utf-8")


def parse_statement(payload: bytes) -> Statement:
    """Parse the one canonical payload form; anything else is a ``MalformedError``."""
    if len(payload) > MAX_ENTRY_SIZE:
        raise TooLargeError(f"a payload is at most {MAX_ENTRY_SIZE} bytes, not {len(payload)}")
    if type(payload) is bytes:
        statement = _parse_canonical(payload)
        if statement is not None:
            return statement
    text, obj = load_json(payload, "payload")
    if not isinstance(obj, dict):
        raise MalformedError("a payload must be a JSON object")
    check_fields(obj, _REQUIRED, _ALLOWED, "statement")
    kind = obj["kind"]
    if not isinstance(kind, str):
        raise MalformedError("field 'kind' must be a string")
    body_type = BODY_TYPES.get(kind)
    if body_type is None:
        raise MalformedError(f"unknown statement kind {kind!r}")
    for name in ("author", "group", "issued_at", "tlp", "pap", "prev"):
        if name in obj and not isinstance(obj[name], str):
            raise MalformedError(f"field {name!r} must be a string")
    _check_seq(obj["seq"])
    body_obj = obj["body"]
    if not isinstance(body_obj, dict):
        raise MalformedError("field 'body' must be a JSON object")
    tlp = _TLP.get(obj["tlp"])
    if tlp is None:
        raise MalformedError(f"field 'tlp' must be one of {', '.join(_TLP)}, not {obj['tlp']!r}")
    pap = None
    if "pap" in obj:
        pap = _PAP.get(obj["pap"])
        if pap is None:
            raise MalformedError(
                f"field 'pap' must be one of {', '.join(_PAP)}, not {obj['pap']!r}"
            )
    prev = None
    if "prev" in obj:
        if not _HEX32.fullmatch(obj["prev"]):
            raise MalformedError("field 'prev' must be 64 lowercase hex digits (SHA-256)")
        prev = bytes.fromhex(obj["prev"])
    try:
        issued_at = parse_time(obj["issued_at"])
    except ValueError as exc:
        raise MalformedError(f"field 'issued_at': {exc}") from exc
    # pydantic reads the body's own text (strict JSON mode); in the canonical layout it sits
    # between the author and the group. If the layout is off, the check below says so.
    body_text = _body_text(text, obj["author"])
    try:
        body = body_type.model_validate_json(body_text, strict=True)
    except ValidationError as exc:
        if dumps(body_obj) != body_text:
            raise _not_canonical() from None
        raise MalformedError(f"invalid body for {kind}: {_describe(exc)}") from exc
    statement = Statement(
        kind=kind,
        group=obj["group"],
        author=obj["author"],
        seq=obj["seq"],
        prev=prev,
        issued_at=issued_at,
        tlp=tlp,
        pap=pap,
        body=body,
    )
    # The one canonical check: re-encoding the statement must give the very same bytes, so
    # one statement has one payload (and one entry hash) whatever the models accept.
    if encode_statement(statement) != payload:
        raise _not_canonical()
    return statement


def open_entry(entry: bytes) -> SignedStatement:
    """Parse a log entry (envelope and statement). Does NOT verify any signature."""
    if len(entry) > MAX_ENTRY_SIZE:
        raise TooLargeError(f"an entry is at most {MAX_ENTRY_SIZE} bytes, not {len(entry)}")
    envelope = Envelope.from_bytes(entry)
    return SignedStatement(entry, envelope, parse_statement(envelope.payload))


def make_entry(statement: Statement, keys: Sequence[Ed25519PrivateKey]) -> SignedStatement:
    """Sign ``statement`` with ``keys`` and return the log entry."""
    envelope = sign_envelope(encode_statement(statement), keys)
    entry = envelope.to_bytes()
    if len(entry) > MAX_ENTRY_SIZE:
        raise TooLargeError(f"an entry is at most {MAX_ENTRY_SIZE} bytes, not {len(entry)}")
    return SignedStatement(entry, envelope, statement)


def _parse_canonical(payload: bytes) -> Statement | None:
    """The statement of a payload in the canonical layout, or None for any doubt at all.

    Accepts only what the strict parser accepts: the result must re-encode to exactly
    ``payload``, which rules out duplicate keys, nulls, floats and other spellings.
    """
    match = _CANONICAL.fullmatch(payload)
    if match is None:
        return None
    author, body_text, group, issued_at, kind, pap, prev, seq, tlp = match.groups()
    known = _KIND_BY_BYTES.get(kind)
    tlp_value = _TLP_BY_BYTES.get(tlp)
    pap_value = None if pap is None else _PAP_BY_BYTES.get(pap)
    if known is None or tlp_value is None or (pap is not None and pap_value is None):
        return None
    try:
        body = known[1].model_validate_json(body_text, strict=True)
        # The one canonical check, as in the strict parser, made on the body alone: around
        # it the layout admits one spelling of each field (fixed order, the exact patterns,
        # kind, tlp and pap from the tables; a time that does not exist, a sequence number
        # out of range, is refused below), so re-encoding the rest could only repeat it.
        if dumps(body.model_dump(mode="json", exclude_none=True)).encode() != body_text:
            return None
        return Statement._from_layout(
            kind=known[0],
            group=group.decode("ascii"),
            author=author.decode("ascii"),
            seq=int(seq),
            prev=None if prev is None else bytes.fromhex(prev.decode("ascii")),
            issued_at=parse_time(issued_at.decode("ascii")),
            tlp=tlp_value,
            pap=pap_value,
            body=body,
        )
    except (ValidationError, ValueError):  # MalformedError is a ValueError
        return None


def _body_text(text: str, author: str) -> str:
    # Canonical order is author, body, group, ...; nothing after "body" but the body itself
    # can hold ',"group":' (the later fields are slugs, times, hex, numbers and enum names).
    prefix = f'{{"author":{dumps(author)},"body":'
    end = text.rfind(',"group":')
    if not text.startswith(prefix) or end < len(prefix):
        return ""
    return text[len(prefix) : end]


def _not_canonical() -> MalformedError:
    return MalformedError(
        "the payload is not in canonical JSON form "
        "(sorted keys, no whitespace, raw UTF-8, minimal escapes, no defaults written out)"
    )


def _check_seq(seq: object) -> None:
    # bool is an int in Python; true/false are not sequence numbers.
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise MalformedError(f"field 'seq' must be an integer from 0 to 2^63-1, not {seq!r}")


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    shown = [
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
        for e in errors[:_MAX_ERRORS]
    ]
    more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
    return "; ".join(shown) + more

"""The transcript bundle: one self-contained file a third party can check with no network.

One canonical file format, ``detente-transcript/v1``: JSON with sorted keys and no spaces,
UTF-8, byte strings as standard base64 with padding, integers only::

    {"checkpoint": "<b64 of the final cosigned checkpoint note, verbatim>",
     "earlier_checkpoints": [{"consistency_proof": ["<b64 hash>", ...], "note": "<b64>"}],
     "format": "detente-transcript/v1",
     "genesis": {"entry": "<b64>", "index": 0, "proof": ["<b64 hash>", ...]},
     "key_history": [{"entry": ..., "index": n, "proof": [...]}, ...],
     "statements": [{"entry": ..., "index": n, "proof": [...]}, ...],
     "subject": {"id": "inc-...", "type": "incident"}
                | {"id": "accord", "type": "agreement"}
                | {"end": b, "start": a, "type": "range"}}

Every inclusion proof is against the FINAL checkpoint; every consistency proof leads from
that earlier checkpoint to the final one. ``statements`` are the subject; ``key_history``
holds the ``party.admit`` / ``party.rotate-keys`` entries needed to know which key each
author held at each index. :meth:`Bundle.from_bytes` accepts exactly what
:meth:`Bundle.to_bytes` writes (re-encoding must give the same bytes), so one bundle has one
spelling; anything else is :class:`~detente.errors.MalformedError` naming the problem.
This module only parses: whether the bundle is TRUE is ``detente.transcript.verify``'s job.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from detente.errors import MalformedError, TooLargeError

__all__ = [
    "FORMAT",
    "MAX_BUNDLE_SIZE",
    "MAX_CHECKPOINTS",
    "MAX_ENTRIES",
    "MAX_ENTRY_SIZE",
    "MAX_NOTE_SIZE",
    "MAX_PROOF_LENGTH",
    "Bundle",
    "EarlierCheckpoint",
    "LoggedEntry",
    "Subject",
]

FORMAT = "detente-transcript/v1"
#: The largest bundle file accepted, in bytes.
MAX_BUNDLE_SIZE = 64 * 1024 * 1024
#: At most this many entries (statements and key history together).
MAX_ENTRIES = 100_000
#: At most this many earlier checkpoints.
MAX_CHECKPOINTS = 10_000
#: A log entry is at most this long (the tile format's limit).
MAX_ENTRY_SIZE = 65_535
#: An RFC 9162 proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_LENGTH = 64
#: A signed checkpoint note is small; this bounds it generously.
MAX_NOTE_SIZE = 1 << 16

_HASH_SIZE = 32
SubjectType = Literal["incident", "agreement", "range"]


def _fail(message: str) -> NoReturn:
    raise MalformedError(message)


def _check_int(value: object, what: str, low: int = 0, high: int = (1 << 63) - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(f"{what} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        _fail(f"{what} out of range: {value} not in [{low}, {high}]")
    return value


def _check_proof(proof: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(proof, tuple):
        _fail(f"{what} must be a tuple of hashes")
    if len(proof) > MAX_PROOF_LENGTH:
        _fail(f"{what} has {len(proof)} hashes, more than {MAX_PROOF_LENGTH}")
    for n, item in enumerate(proof):
        if not isinstance(item, bytes) or len(item) != _HASH_SIZE:
            length = len(item) if isinstance(item, bytes) else type(item).__name__
            _fail(f"{what} hash {n} is {length} bytes, expected {_HASH_SIZE}")
    return proof


@dataclass(frozen=True, slots=True)
class Subject:
    """What a bundle is about: an incident, an agreement, or the entries ``[start, end)``."""

    type: SubjectType
    id: str | None = None
    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        if self.type in ("incident", "agreement"):
            if not isinstance(self.id, str) or not 1 <= len(self.id) <= 64:
                _fail(f"an {self.type} subject needs an id of 1 to 64 characters")
            if self.start is not None or self.end is not None:
                _fail(f"an {self.type} subject has no range")
        elif self.type == "range":
            if self.id is not None:
                _fail("a range subject has no id")
            start = _check_int(self.start, "range start", 1)
            end = _check_int(self.end, "range end", 1)
            if start >= end:
                _fail(f"range [{start}, {end}) is empty")
        else:
            _fail(f"unknown subject type {self.type!r}")

    @classmethod
    def incident(cls, incident_id: str) -> Subject:
        return cls("incident", id=incident_id)

    @classmethod
    def agreement(cls, agreement_id: str) -> Subject:
        return cls("agreement", id=agreement_id)

    @classmethod
    def range(cls, start: int, end: int) -> Subject:
        """Entries ``start`` (>= 1: the genesis is always in a bundle) to ``end`` exclusive."""
        return cls("range", start=start, end=end)

    def describe(self) -> str:
        if self.type == "range":
            return f"entries {self.start} to {self.end} (exclusive)"
        return f"{self.type} {self.id}"


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """A log entry at ``index`` with its inclusion proof against the final checkpoint."""

    index: int
    entry: bytes
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_int(self.index, "entry index")
        if not isinstance(self.entry, bytes) or not self.entry:
            _fail(f"entry {self.index} is empty")
        if len(self.entry) > MAX_ENTRY_SIZE:
            raise TooLargeError(
                f"entry {self.index} has {len(self.entry)} bytes, more than {MAX_ENTRY_SIZE}"
            )
        _check_proof(self.proof, f"inclusion proof of entry {self.index}")


@dataclass(frozen=True, slots=True)
class EarlierCheckpoint:
    """A cosigned checkpoint note older than the final one, with a consistency proof to it."""

    note: bytes
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.note, bytes) or not self.note:
            _fail("an earlier checkpoint note is empty")
        if len(self.note) > MAX_NOTE_SIZE:
            raise TooLargeError(f"a checkpoint note of {len(self.note)} bytes is too large")
        _check_proof(self.proof, "consistency proof of an earlier checkpoint")


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed (not verified) transcript bundle; construction checks the layout rules.

    ``statements`` and ``key_history`` are each sorted by strictly increasing index, with no
    index in both and none equal to 0 (the genesis); ``statements`` is never empty (an empty
    transcript proves nothing).
    """

    subject: Subject
    genesis: LoggedEntry
    statements: tuple[LoggedEntry, ...]
    key_history: tuple[LoggedEntry, ...]
    checkpoint: bytes
    earlier: tuple[EarlierCheckpoint, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.subject, Subject):
            _fail("a bundle's subject must be a Subject")
        if not isinstance(self.genesis, LoggedEntry) or self.genesis.index != 0:
            _fail("the genesis must be a LoggedEntry at index 0")
        for name in ("statements", "key_history", "earlier"):
            if not isinstance(getattr(self, name), tuple):
                _fail(f"a bundle's {name} must be a tuple")
        if not self.statements:
            _fail("a bundle must hold at least one statement")
        total = len(self.statements) + len(self.key_history)
        if total > MAX_ENTRIES:
            raise TooLargeError(f"a bundle holds at most {MAX_ENTRIES} entries, not {total}")
        if len(self.earlier) > MAX_CHECKPOINTS:
            raise TooLargeError(
                f"a bundle holds at most {MAX_CHECKPOINTS} earlier checkpoints, "
                f"not {len(self.earlier)}"
            )
        for name, entries in (("statements", self.statements), ("key_history", self.key_history)):
            previous = 0
            for item in entries:
                if not isinstance(item, LoggedEntry):
                    _fail(f"{name} must hold LoggedEntry values")
                if item.index <= previous:
                    _fail(f"{name} indices must increase from 1: {item.index} after {previous}")
                previous = item.index
        both = {e.index for e in self.statements} & {e.index for e in self.key_history}
        if both:
            _fail(f"entries both statements and key history: {sorted(both)}")
        for older in self.earlier:
            if not isinstance(older, EarlierCheckpoint):
                _fail("earlier must hold EarlierCheckpoint values")
        if not isinstance(self.checkpoint, bytes) or not self.checkpoint:
            _fail("the final checkpoint note is empty")
        if len(self.checkpoint) > MAX_NOTE_SIZE:
            raise TooLargeError(f"a checkpoint note of {len(self.checkpoint)} bytes is too large")

    def entries(self) -> tuple[LoggedEntry, ...]:
        """Key history and statements merged by index (the genesis not included)."""
        return tuple(sorted((*self.key_history, *self.statements), key=lambda e: e.index))

    # -- encoding ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The one canonical encoding."""
        obj = {
            "checkpoint": _b64(self.checkpoint),
            "earlier_checkpoints": [
                {"consistency_proof": [_b64(h) for h in e.proof], "note": _b64(e.note)}
                for e in self.earlier
            ],
            "format": FORMAT,
            "genesis": _entry_obj(self.genesis),
            "key_history": [_entry_obj(e) for e in self.key_history],
            "statements": [_entry_obj(e) for e in self.statements],
            "subject": _subject_obj(self.subject),
        }
        return _dumps(obj).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """Parse the canonical encoding strictly; MalformedError (or TooLargeError) naming
        the problem for anything else."""
        if not isinstance(data, bytes | bytearray):
            _fail(f"a bundle must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_BUNDLE_SIZE:
            raise TooLargeError(
                f"a bundle is at most {MAX_BUNDLE_SIZE} bytes, this one has {len(data)}"
            )
        obj = _loads(data)
        _fields(obj, _TOP, "bundle")
        if obj["format"] != FORMAT:
            _fail(f"format must be {FORMAT!r}, not {obj['format']!r}")
        bundle = cls(
            subject=_subject(obj["subject"]),
            genesis=_entry(obj["genesis"], "genesis"),
            statements=tuple(
                _entry(e, f"statement {n}") for n, e in enumerate(_list(obj, "statements"))
            ),
            key_history=tuple(
                _entry(e, f"key history entry {n}") for n, e in enumerate(_list(obj, "key_history"))
            ),
            checkpoint=_unb64(obj["checkpoint"], "checkpoint"),
            earlier=tuple(_earlier(e, n) for n, e in enumerate(_list(obj, "earlier_checkpoints"))),
        )
        if bundle.to_bytes() != data:
            _fail("the bundle is not in canonical form (sorted keys, no spaces, UTF-8)")
        return bundle


# -- JSON helpers ------------------------------------------------------------------------

_TOP = frozenset(
    ("checkpoint", "earlier_checkpoints", "format", "genesis", "key_history", "statements")
) | {"subject"}
_ENTRY = frozenset({"entry", "index", "proof"})
_EARLIER = frozenset({"consistency_proof", "note"})
_SUBJECT_FIELDS: dict[str, frozenset[str]] = {
    "incident": frozenset({"id", "type"}),
    "agreement": frozenset({"id", "type"}),
    "range": frozenset({"end", "start", "type"}),
}


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        _fail("duplicate key in a JSON object")
    return obj


def _no_float(text: str) -> NoReturn:
    _fail(f"numbers must be integers, not {text[:20]}")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_no_float, parse_constant=_no_float
)


def _loads(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"the bundle is not UTF-8 at byte {exc.start}") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedError(f"the bundle is not JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise MalformedError("the bundle nests too deeply") from None
    except MalformedError:
        raise
    except ValueError as exc:  # an over-long integer
        raise MalformedError(f"the bundle is not acceptable JSON: {exc}") from None


def _dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fields(obj: object, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        _fail(f"{where} must be a JSON object")
    keys = set(obj)
    if keys - allowed:
        _fail(f"unknown field(s) in {where}: {', '.join(sorted(keys - allowed))}")
    if allowed - keys:
        _fail(f"missing field(s) in {where}: {', '.join(sorted(allowed - keys))}")
    return obj


def _list(obj: dict[str, Any], name: str) -> list[Any]:
    value = obj[name]
    if not isinstance(value, list):
        _fail(f"field {name!r} must be a list")
    return value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        _fail(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedError(f"{what}: invalid base64 ({len(text)} characters)") from None
    if _b64(raw) != text:
        _fail(f"{what}: non-canonical base64 ({len(text)} characters)")
    return raw


def _proof(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        _fail(f"{what} must be a list")
    if len(value) > MAX_PROOF_LENGTH:
        _fail(f"{what} has {len(value)} hashes, more than {MAX_PROOF_LENGTH}")
    return tuple(_unb64(h, f"{what} hash {n}") for n, h in enumerate(value))


def _entry(value: object, what: str) -> LoggedEntry:
    obj = _fields(value, _ENTRY, what)
    index = _check_int(obj["index"], f"{what} index")
    return LoggedEntry(
        index=index,
        entry=_unb64(obj["entry"], f"{what} (index {index}) entry"),
        proof=_proof(obj["proof"], f"{what} (index {index}) proof"),
    )


def _entry_obj(entry: LoggedEntry) -> dict[str, object]:
    proof = [_b64(h) for h in entry.proof]
    return {"entry": _b64(entry.entry), "index": entry.index, "proof": proof}


def _earlier(value: object, n: int) -> EarlierCheckpoint:
    obj = _fields(value, _EARLIER, f"earlier checkpoint {n}")
    return EarlierCheckpoint(
        note=_unb64(obj["note"], f"earlier checkpoint {n} note"),
        proof=_proof(obj["consistency_proof"], f"earlier checkpoint {n} consistency proof"),
    )


def _subject(value: object) -> Subject:
    if not isinstance(value, dict):
        _fail("subject must be a JSON object")
    kind = value.get("type")
    allowed = _SUBJECT_FIELDS.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        _fail(f"subject type must be incident, agreement or range, not {kind!r}")
    obj = _fields(value, allowed, "subject")
    if kind == "range":
        return Subject("range", start=obj["start"], end=obj["end"])
    if not isinstance(obj["id"], str):
        _fail("subject id must be a string")
    return Subject(kind, id=obj["id"])  # type: ignore[arg-type]


def _subject_obj(subject: Subject) -> dict[str, object]:
    if subject.type == "range":
        return {"end": subject.end, "start": subject.start, "type": "range"}
    return {"id": subject.id, "type": subject.type}

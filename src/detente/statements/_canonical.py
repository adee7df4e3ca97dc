"""Strict canonical JSON, shared by the envelope and the payload parsers (private).

Canonical means what ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` writes, UTF-8 encoded. Reading refuses duplicate keys (at any depth),
``null`` object members, floats, NaN and Infinity, so that one value has one spelling.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from detente.errors import MalformedError

__all__ = ["check_fields", "dumps", "load_json"]


def _reject_pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedError(f"duplicate key {key!r} in a JSON object")
            seen.add(key)
    for key, value in pairs:
        # ``null`` is never canonical: unset optional fields are left out.
        if value is None:
            raise MalformedError(f"field {key!r} is null; leave unset fields out")
    return obj


def _reject_float(text: str) -> NoReturn:
    raise MalformedError(f"numbers must be integers, not {text}")


def _reject_constant(text: str) -> NoReturn:
    raise MalformedError(f"{text} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_pairs_hook,
    parse_float=_reject_float,
    parse_constant=_reject_constant,
)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_json(data: bytes, what: str) -> tuple[str, Any]:
    """Decode strict UTF-8 JSON: no duplicate keys, no null, no floats, no NaN."""
    if not isinstance(data, bytes):
        raise MalformedError(f"the {what} must be bytes, not {type(data).__name__}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"the {what} is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return text, _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedError(f"the {what} is not JSON: {exc.msg} at char {exc.pos}") from exc
    except RecursionError as exc:
        raise MalformedError(f"the {what} nests too deeply") from exc
    except ValueError as exc:  # MalformedError from a hook, or an over-long integer
        if isinstance(exc, MalformedError):
            raise
        raise MalformedError(f"the {what} is not acceptable JSON: {exc}") from exc


def dumps(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces, raw UTF-8)."""
    return _ENCODER.encode(obj)


def check_fields(
    obj: dict[str, Any], required: frozenset[str], allowed: frozenset[str], where: str
) -> None:
    keys = obj.keys()
    if not keys <= allowed:
        raise MalformedError(f"unknown field(s) in {where}: {', '.join(sorted(keys - allowed))}")
    if not required <= keys:
        raise MalformedError(f"missing field(s) in {where}: {', '.join(sorted(required - keys))}")

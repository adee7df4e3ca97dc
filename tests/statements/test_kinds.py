"""Body models: every kind has one, each is strict, frozen and round-trips canonically."""

from __future__ import annotations

import base64
import datetime as dt
import json
import types
import typing

import pytest
from examples import INVALID_BODIES, VALID_BODIES
from pydantic import ValidationError

from detente.statements import BODY_TYPES, KINDS, Body
from detente.statements.kinds import IntelShare, PartyRotateKeys, format_time, parse_time


def test_kinds_are_the_body_types() -> None:
    assert tuple(BODY_TYPES) == KINDS
    assert len(KINDS) == 17
    assert len(set(KINDS)) == 17


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID_BODIES) == set(KINDS)
    for kind, body in VALID_BODIES.items():
        assert type(body) is BODY_TYPES[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_valid_body_round_trips_in_strict_json_mode(kind: str) -> None:
    body = VALID_BODIES[kind]
    text = json.dumps(body.model_dump(mode="json", exclude_none=True), sort_keys=True)
    assert BODY_TYPES[kind].model_validate_json(text, strict=True) == body


_INVALID = [(k, why, body) for k, cases in INVALID_BODIES.items() for why, body in cases]


@pytest.mark.parametrize(
    ("kind", "body"), [(k, b) for k, _, b in _INVALID], ids=[f"{k}: {w}" for k, w, _ in _INVALID]
)
def test_invalid_body_is_refused(kind: str, body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BODY_TYPES[kind].model_validate_json(json.dumps(body), strict=True)


def _optional(annotation: object) -> bool:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in args


@pytest.mark.parametrize("kind", KINDS)
def test_only_optional_fields_have_defaults_and_they_are_none(kind: str) -> None:
    # The canonical payload leaves None out; this is safe only if no field defaults to
    # anything else (otherwise an absent field and its default would be two spellings).
    for name, field in BODY_TYPES[kind].model_fields.items():
        if field.is_required():
            continue
        assert field.default is None, f"{kind}.{name} defaults to {field.default!r}"
        assert _optional(field.annotation), f"{kind}.{name} has a default but is not Optional"


@pytest.mark.parametrize("kind", KINDS)
def test_bodies_are_frozen_and_refuse_unknown_fields(kind: str) -> None:
    model = BODY_TYPES[kind]
    assert issubclass(model, Body)
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("strict") is True


def test_bodies_cannot_be_changed() -> None:
    with pytest.raises(ValidationError):
        VALID_BODIES["ping.ack"].ping = "other"  # type: ignore[attr-defined]


def test_time_known_answers() -> None:
    when = dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.UTC)
    assert parse_time("2026-11-27T21:00:00Z") == when
    assert format_time(when) == "2026-11-27T21:00:00Z"
    assert format_time(when.astimezone(dt.timezone(dt.timedelta(hours=2)))) == (
        "2026-11-27T21:00:00Z"
    )


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-27T21:00:00+00:00",
        "2026-11-27T21:00:00.0Z",
        "2026-11-27 21:00:00Z",
        "2026-11-27T21:00:00z",
        "",
        1790000000,
        dt.datetime(2026, 11, 27, 21, 0),
        dt.datetime(2026, 11, 27, 21, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
)
def test_time_refusals(value: object) -> None:
    with pytest.raises(ValueError, match="times must"):
        parse_time(value)


@pytest.mark.parametrize(
    "value", ["2026-02-30T21:00:00Z", "2026-11-27T24:00:00Z", "2026-12-31T23:59:60Z"]
)
def test_time_out_of_range_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"does not match|out of range|must be in"):
        parse_time(value)


def test_hash_must_be_lowercase_hex_of_32_bytes() -> None:
    good = VALID_BODIES["intel.share"].model_dump(mode="json")
    assert (
        IntelShare.model_validate_json(json.dumps(good), strict=True) == VALID_BODIES["intel.share"]
    )
    for bad in (good["blob"].upper(), good["blob"][:-2], good["blob"] + "00", "zz" * 32):
        with pytest.raises(ValidationError, match="hash"):
            IntelShare.model_validate_json(json.dumps({**good, "blob": bad}), strict=True)


def test_public_key_must_be_canonical_base64_of_32_bytes() -> None:
    good = VALID_BODIES["party.rotate-keys"].model_dump(mode="json")
    raw = base64.b64decode(good["signing_key"])
    unpadded = good["signing_key"].rstrip("=")
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 32).decode()
    pad_bits = good["signing_key"][:-2] + chr(ord(good["signing_key"][-2]) ^ 1) + "="
    for bad in (unpadded, urlsafe, pad_bits, base64.b64encode(raw[:31]).decode()):
        with pytest.raises(ValidationError, match=r"base64|32 bytes"):
            PartyRotateKeys.model_validate_json(
                json.dumps({**good, "signing_key": bad}), strict=True
            )


def test_time_refuses_digits_of_other_scripts() -> None:
    # Regression: ``\d`` matched "٢٠٢٦" and int() read it as 2026, a second spelling.
    with pytest.raises(ValueError, match="times must"):
        parse_time("٢٠٢٦-11-27T21:00:00Z")
    with pytest.raises(ValueError, match="times must"):
        parse_time("2026-11-27T21:00:00Z\n")


def test_time_pads_early_years() -> None:
    # Regression: strftime's %Y gave "999-..." which parse_time then refused.
    early = dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert format_time(early) == "0999-01-02T03:04:05Z"
    assert parse_time(format_time(early)) == early

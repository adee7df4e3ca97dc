"""Sealed bodies: plaintext, public body and opening, and what the body models refuse."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from examples import ISSUED_AT, VALID_BODIES, statement
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError, TooLargeError, VerificationError
from detente.statements import encode_statement, parse_statement
from detente.statements.kinds import (
    BODY_TYPES,
    ConsultationRecord,
    ConsultationRequest,
    Evidence,
    IncidentNotify,
    IncidentRespond,
    Indicator,
    IntelShare,
    Purpose,
    Response,
    SealableBody,
    Sealed,
    Severity,
    SightingReport,
    Tlp,
)
from detente.statements.sealing import (
    CONFIDENTIAL_TLP,
    MAX_PLAINTEXT_SIZE,
    SEALABLE_KINDS,
    TLP_ORDER,
    open_sealed,
    plaintext,
    public_body,
)

SEALED = Sealed(
    blob=hashlib.sha256(b"an age file").digest(),
    size=321,
    recipients=("ministry-a", "ministry-b"),
)
SIX = (
    "incident.notify",
    "incident.respond",
    "consultation.request",
    "consultation.record",
    "sighting.report",
    "intel.share",
)


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _body(kind: str) -> SealableBody:
    body = VALID_BODIES[kind]
    assert isinstance(body, SealableBody)
    return body


def test_the_six_sealable_kinds_and_the_tlp_order() -> None:
    assert frozenset(SIX) == SEALABLE_KINDS
    assert {Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED} == CONFIDENTIAL_TLP
    assert TLP_ORDER == (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)


@pytest.mark.parametrize("kind", SIX)
def test_plaintext_public_body_and_open_round_trip(kind: str) -> None:
    body = _body(kind)
    data = plaintext(body)
    # The plaintext is the canonical JSON of the whole unsealed body.
    assert data == _canonical(body.model_dump(mode="json", exclude_none=True))
    assert b'"sealed"' not in data
    public = public_body(body, SEALED)
    assert type(public) is type(body)
    assert public.sealed == SEALED
    for name in body.CONFIDENTIAL:
        assert getattr(public, name) is None, name
    for name in type(body).model_fields:
        if name != "sealed" and name not in body.CONFIDENTIAL:
            assert getattr(public, name) == getattr(body, name), name
    assert open_sealed(public, data) == body
    # The public body goes into a payload that parses back to the same statement.
    logged = parse_statement(encode_statement(statement(kind, body=public, tlp=Tlp.AMBER)))
    assert logged.body == public
    wire = json.loads(encode_statement(statement(kind, body=public)))["body"]
    assert wire["sealed"] == {
        "blob": SEALED.blob.hex(),
        "size": 321,
        "recipients": ["ministry-a", "ministry-b"],
    }
    assert not set(body.CONFIDENTIAL) & set(wire)


@pytest.mark.parametrize("kind", SIX)
def test_a_sealed_body_cannot_be_sealed_again_nor_opened_unsealed(kind: str) -> None:
    body = _body(kind)
    public = public_body(body, SEALED)
    with pytest.raises(MalformedError, match="already sealed"):
        plaintext(public)
    with pytest.raises(MalformedError, match="already sealed"):
        public_body(public, SEALED)
    with pytest.raises(MalformedError, match="not sealed"):
        open_sealed(body, plaintext(body))


def test_open_refuses_non_canonical_plaintext() -> None:
    body = _body("incident.notify")
    public = public_body(body, SEALED)
    spaced = json.dumps(body.model_dump(mode="json", exclude_none=True), indent=1).encode()
    with pytest.raises(MalformedError, match="canonical JSON"):
        open_sealed(public, spaced)
    unsorted = json.dumps(
        dict(reversed(body.model_dump(mode="json", exclude_none=True).items())),
        separators=(",", ":"),
    ).encode()
    with pytest.raises(MalformedError, match="canonical JSON"):
        open_sealed(public, unsorted)
    with pytest.raises(MalformedError, match="not a valid IncidentNotify"):
        open_sealed(public, b"\xff not json")


def test_open_refuses_a_body_of_another_kind() -> None:
    public = public_body(_body("incident.notify"), SEALED)
    with pytest.raises(MalformedError, match="not a valid IncidentNotify") as caught:
        open_sealed(public, plaintext(_body("incident.respond")))
    assert not isinstance(caught.value, VerificationError)


def test_open_refuses_a_plaintext_that_is_itself_sealed() -> None:
    body = _body("incident.respond")
    public = public_body(body, SEALED)
    inner = _canonical(public.model_dump(mode="json", exclude_none=True))
    with pytest.raises(MalformedError, match="itself sealed"):
        open_sealed(public, inner)


def test_open_refuses_a_plaintext_missing_a_required_confidential_field() -> None:
    body = _body("incident.respond")
    public = public_body(body, SEALED)
    wire = body.model_dump(mode="json", exclude_none=True)
    del wire["text"]
    with pytest.raises(MalformedError, match="text required"):
        open_sealed(public, _canonical(wire))


@pytest.mark.parametrize(
    ("kind", "field", "other"),
    [
        ("incident.notify", "severity", "low"),
        ("incident.notify", "to", ["ministry-c"]),
        ("incident.notify", "answer_by", "2026-12-31T00:00:00Z"),
        ("incident.respond", "response", "deny"),
        ("consultation.request", "with_parties", ["ministry-c"]),
        ("consultation.record", "participants", ["ministry-a"]),
        ("sighting.report", "count", 18),
        ("intel.share", "to", ["ministry-b"]),
    ],
)
def test_open_refuses_a_readable_field_other_than_the_logged_one(
    kind: str, field: str, other: Any
) -> None:
    body = _body(kind)
    public = public_body(body, SEALED)
    wire = body.model_dump(mode="json", exclude_none=True)
    wire[field] = other
    told = _canonical(wire)
    type(body).model_validate_json(told, strict=True)  # a valid body, only not the logged one
    with pytest.raises(VerificationError, match=f"says {field} is .* the logged statement says"):
        open_sealed(public, told)


def test_open_refuses_a_readable_field_the_log_left_out() -> None:
    # The log has no answer_by (the agreement's default applies); the plaintext adds one.
    body = _body("incident.notify")
    assert isinstance(body, IncidentNotify)
    public = public_body(body.model_copy(update={"answer_by": None}), SEALED)
    with pytest.raises(VerificationError, match="answer_by"):
        open_sealed(public, plaintext(body))


def test_plaintext_and_open_refuse_oversized_content() -> None:
    public = public_body(_body("incident.respond"), SEALED)
    with pytest.raises(TooLargeError):
        open_sealed(public, b" " * (MAX_PLAINTEXT_SIZE + 1))
    many = tuple(
        Indicator(type="domain-name", value=f"{n:04d}" + "x" * 2000 + ".example")
        for n in range(600)
    )
    big = SightingReport(indicators=many, observed=True, count=1)
    with pytest.raises(TooLargeError, match="at most"):
        plaintext(big)


# -- the body models, through parse_statement -------------------------------------------------


def _payload_with_body(kind: str, body: dict[str, Any]) -> bytes:
    """A canonical payload of ``kind`` whose body is ``body`` (built by hand: the models
    would refuse to build it)."""
    wire = json.loads(encode_statement(statement(kind)))
    wire["body"] = body
    return _canonical(wire)


def _sealed_wire() -> dict[str, Any]:
    return SEALED.model_dump(mode="json")


@pytest.mark.parametrize("kind", SIX)
def test_a_sealed_body_with_a_confidential_field_is_malformed(kind: str) -> None:
    body = _body(kind)
    wire = body.model_dump(mode="json", exclude_none=True)
    wire["sealed"] = _sealed_wire()
    first = body.CONFIDENTIAL[0]
    for name in body.CONFIDENTIAL[1:]:
        wire.pop(name, None)
    with pytest.raises(MalformedError, match=f"a sealed body leaves out {first}"):
        parse_statement(_payload_with_body(kind, wire))


@pytest.mark.parametrize("kind", SIX)
def test_an_unsealed_body_missing_a_required_confidential_field_is_malformed(kind: str) -> None:
    body = _body(kind)
    wire = body.model_dump(mode="json", exclude_none=True)
    required = body.REQUIRED[0]
    del wire[required]
    with pytest.raises(MalformedError, match=f"{required}.* required .the body is not sealed"):
        parse_statement(_payload_with_body(kind, wire))


def test_consultation_record_outcome_is_optional_but_still_sealed() -> None:
    record = ConsultationRecord(
        consultation="consult-1",
        held_at=ISSUED_AT,
        participants=("ministry-a",),
        summary="Met.",
    )
    assert record.outcome is None
    wire = record.model_dump(mode="json", exclude_none=True)
    del wire["summary"]
    wire["outcome"] = "Agreed."
    wire["sealed"] = _sealed_wire()
    with pytest.raises(MalformedError, match="leaves out outcome"):
        parse_statement(_payload_with_body("consultation.record", wire))


@pytest.mark.parametrize(
    ("recipients", "why"),
    [
        (["ministry-b", "ministry-a"], "sorted"),
        (["ministry-a", "ministry-a"], "each named once"),
        ([], "at least 1"),
        (["Ministry-A"], "pattern"),
    ],
)
def test_sealed_recipients_must_be_sorted_members_named_once(
    recipients: list[str], why: str
) -> None:
    wire = public_body(_body("incident.respond"), SEALED).model_dump(mode="json", exclude_none=True)
    wire["sealed"]["recipients"] = recipients
    with pytest.raises(MalformedError, match=f"sealed.recipients.*{why}"):
        parse_statement(_payload_with_body("incident.respond", wire))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"size": 0}, "sealed.size"),
        ({"blob": "AB" * 32}, "sealed.blob"),
        ({"extra": 1}, "sealed.extra"),
    ],
)
def test_the_sealed_reference_itself_is_checked(change: dict[str, Any], why: str) -> None:
    wire = public_body(_body("incident.respond"), SEALED).model_dump(mode="json", exclude_none=True)
    wire["sealed"].update(change)
    with pytest.raises(MalformedError, match=why):
        parse_statement(_payload_with_body("incident.respond", wire))


@pytest.mark.parametrize(
    "kind", ["ping", "agreement.propose", "party.admit", "norm.propose", "group.genesis"]
)
def test_governance_kinds_have_no_sealed_field(kind: str) -> None:
    assert not issubclass(BODY_TYPES[kind], SealableBody)
    wire = VALID_BODIES[kind].model_dump(mode="json", exclude_none=True)
    wire["sealed"] = _sealed_wire()
    with pytest.raises(MalformedError, match="sealed"):
        parse_statement(_payload_with_body(kind, wire))


# -- Hypothesis: any valid body seals and opens to itself ----------------------------------------

_text = st.text(min_size=1, max_size=60)
_title = st.text(min_size=1, max_size=60)
_slug = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
_party = st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True)
_parties = st.lists(_party, min_size=1, max_size=4, unique=True).map(tuple)
_time = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda t: t.replace(microsecond=0, tzinfo=dt.UTC)
)
_hash = st.binary(min_size=32, max_size=32)
_norms = st.lists(st.sampled_from(["GGE-13c", "GGE-13h", "PARIS-P3"]), unique=True).map(tuple)
_evidence = st.builds(
    Evidence,
    sha256=_hash,
    name=_title,
    media_type=st.sampled_from(["text/csv", "application/pdf"]),
    size=st.integers(0, 10**9),
)
_indicator = st.builds(
    Indicator,
    type=st.sampled_from(["ipv4-addr", "domain-name", "file"]),
    value=st.text(min_size=1, max_size=60),
)

_sealable: st.SearchStrategy[SealableBody] = st.one_of(
    st.builds(
        IncidentNotify,
        id=_slug,
        purpose=st.sampled_from(Purpose),
        to=_parties,
        title=_title,
        summary=_text,
        severity=st.sampled_from(Severity),
        agreement=st.none() | _slug,
        norms=_norms,
        evidence=st.lists(_evidence, max_size=3).map(tuple),
        answer_by=st.none() | _time,
    ),
    st.builds(IncidentRespond, incident=_slug, response=st.sampled_from(Response), text=_text),
    st.builds(
        ConsultationRequest,
        id=_slug,
        with_parties=_parties,
        agenda=_text,
        incident=st.none() | _slug,
        proposed_times=st.lists(_time, max_size=3).map(tuple),
    ),
    st.builds(
        ConsultationRecord,
        consultation=_slug,
        held_at=_time,
        participants=_parties,
        summary=_text,
        outcome=st.none() | _text,
    ),
    st.builds(
        SightingReport,
        incident=st.none() | _slug,
        indicators=st.lists(_indicator, min_size=1, max_size=3).map(tuple),
        observed=st.booleans(),
        first_seen=st.none() | _time,
        last_seen=st.none() | _time,
        count=st.integers(0, 10**6),
    ),
    st.builds(
        IntelShare,
        blob=_hash,
        size=st.integers(0, 10**9),
        media_type=st.just("application/stix+json;version=2.1"),
        title=_title,
        to=st.lists(_party, max_size=3, unique=True).map(tuple),
        derived_from=st.none() | st.integers(1, 10**6),
    ),
)
_seals = st.builds(
    Sealed,
    blob=_hash,
    size=st.integers(1, 10**9),
    recipients=st.lists(_party, min_size=1, max_size=5, unique=True).map(
        lambda names: tuple(sorted(names))
    ),
)


@given(_sealable, _seals)
def test_any_valid_body_seals_and_opens_to_itself(body: SealableBody, sealed: Sealed) -> None:
    data = plaintext(body)
    public = public_body(body, sealed)
    assert open_sealed(public, data) == body
    # The plaintext is canonical, and the public body parses back from its wire form.
    assert plaintext(open_sealed(public, data)) == data
    wire = public.model_dump_json(exclude_none=True)
    assert type(body).model_validate_json(wire, strict=True) == public

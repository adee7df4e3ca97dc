"""Statements: canonical payloads, strict parsing, log entries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from examples import (
    FOUNDERS,
    INVALID_BODIES,
    ISSUED_AT,
    VALID_BODIES,
    party_key,
    public_key,
    statement,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError, SignatureError, TooLargeError
from detente.statements import (
    KINDS,
    MAX_ENTRY_SIZE,
    Envelope,
    Pap,
    Statement,
    Tlp,
    encode_statement,
    entry_hash,
    make_entry,
    open_entry,
    parse_statement,
    sign_envelope,
    verify_signature,
)
from detente.statements.kinds import (
    Contact,
    ContactRole,
    ContactUpdate,
    Evidence,
    IncidentRespond,
    PartyLeave,
    PingAck,
    Response,
)

PREV = hashlib.sha256(b"previous entry").digest()


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _wire(st_: Statement) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(encode_statement(st_))
    return obj


def _numbered(kind: str) -> Statement:
    """A valid statement of ``kind`` at seq 2 (so with ``prev``), genesis at seq 0."""
    if kind == "group.genesis":
        return statement(kind)
    return statement(kind, seq=2, prev=PREV)


# -- known answer ------------------------------------------------------------------------------


def test_canonical_payload_known_answer() -> None:
    # Written by hand from GROUP-API.md: sorted keys, no spaces, prev in hex, no pap (unset).
    got = encode_statement(
        statement("ping.ack", seq=2, prev=PREV, body=PingAck(ping="ping-1"), tlp=Tlp.AMBER)
    )
    assert (
        got
        == (
            '{"author":"ministry-a","body":{"ping":"ping-1"},"group":"cbm-east",'
            '"issued_at":"2026-11-27T21:00:00Z","kind":"ping.ack",'
            f'"prev":"{PREV.hex()}","seq":2,"tlp":"AMBER"}}'
        ).encode()
    )


def test_raw_utf8_and_minimal_escapes() -> None:
    body = PartyLeave(reason='Fin du mandat — "merci"\n')
    got = encode_statement(statement("party.leave", body=body))
    assert '"reason":"Fin du mandat — \\"merci\\"\\n"'.encode() in got


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_round_trips(kind: str) -> None:
    st_ = _numbered(kind)
    payload = encode_statement(st_)
    assert parse_statement(payload) == st_
    signed = make_entry(st_, [party_key(st_.author)])
    opened = open_entry(signed.entry)
    assert opened == signed
    assert opened.entry == signed.envelope.to_bytes()
    assert opened.envelope.payload == payload
    verify_signature(opened.envelope, public_key(st_.author))


def test_pap_round_trips() -> None:
    st_ = Statement(**{**_fields(statement("ping.ack")), "pap": Pap.AMBER})
    assert _wire(st_)["pap"] == "AMBER"
    assert parse_statement(encode_statement(st_)) == st_


def _fields(st_: Statement) -> dict[str, Any]:
    return {name: getattr(st_, name) for name in Statement.__slots__}


def test_genesis_signed_by_every_founder() -> None:
    genesis = statement("group.genesis")
    signed = make_entry(genesis, [party_key(f) for f in FOUNDERS])
    opened = open_entry(signed.entry)
    assert opened.statement.seq == 0
    assert opened.statement.prev is None
    for founder in FOUNDERS:
        verify_signature(opened.envelope, public_key(founder))


def test_entry_hash_is_sha256_of_the_entry() -> None:
    entry = make_entry(statement("ping.ack"), [party_key("ministry-a")]).entry
    assert entry_hash(entry) == hashlib.sha256(entry).digest()
    nxt = statement("ping.ack", seq=2, prev=entry_hash(entry))
    assert open_entry(make_entry(nxt, [party_key("ministry-a")]).entry).statement.prev == (
        hashlib.sha256(entry).digest()
    )


def test_entries_are_deterministic() -> None:
    one = make_entry(statement("ping.ack"), [party_key("ministry-a")]).entry
    two = make_entry(statement("ping.ack"), [party_key("ministry-a")]).entry
    assert one == two


# -- strict parsing ----------------------------------------------------------------------------

_BASE = _wire(_numbered("incident.notify"))
_BASE_TEXT = _dumps(_BASE)


def _with(**changes: Any) -> bytes:
    obj = dict(_BASE)
    for name, value in changes.items():
        if value is _DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return _dumps(obj)


def _body_with(**changes: Any) -> bytes:
    body = {**_BASE["body"], **changes}
    return _with(body=body)


_DROP = object()
_GENESIS = _wire(statement("group.genesis"))

MALFORMED: list[tuple[str, bytes, str]] = [
    ("empty", b"", "not JSON"),
    ("invalid JSON", _BASE_TEXT[:-1], "not JSON"),
    ("not an object", b"[1]", "JSON object"),
    ("not UTF-8", _BASE_TEXT.replace(b"ministry-a", b"ministr\xff-a"), "not UTF-8"),
    ("duplicate top-level key", _BASE_TEXT[:-1] + b',"seq":2}', "duplicate key 'seq'"),
    (
        "duplicate key in the body",
        _BASE_TEXT.replace(b'"body":{', b'"body":{"id":"x",'),
        "duplicate key 'id'",
    ),
    (
        "duplicate key deep in the body",
        _BASE_TEXT.replace(b'"media_type":', b'"size":1,"media_type":'),
        "duplicate key 'size'",
    ),
    (
        "duplicate key in a genesis party",
        _dumps(_GENESIS).replace(b'"name":"Ministry A"', b'"name":"Ministry A","id":"x"'),
        "duplicate key 'id'",
    ),
    ("unknown field", _with(extra="x"), "unknown field.*extra"),
    ("missing field", _with(group=_DROP), "missing field.*group"),
    ("missing body", _with(body=_DROP), "missing field.*body"),
    ("unknown kind", _with(kind="incident.delete"), "unknown statement kind 'incident.delete'"),
    ("kind not a string", _with(kind=3), "'kind' must be a string"),
    ("body not an object", _with(body=[]), "'body' must be a JSON object"),
    ("body of another kind", _with(kind="ping.ack"), "invalid body for ping.ack"),
    ("null top-level field", _with(pap=None), "'pap' is null"),
    ("null body field", _body_with(agreement=None), "'agreement' is null"),
    ("seq negative", _with(seq=-1), "'seq' must be an integer"),
    ("seq true", _with(seq=True), "'seq' must be an integer.*True"),
    ("seq as a string", _with(seq="2"), "'seq' must be an integer"),
    ("seq as a float", _BASE_TEXT.replace(b'"seq":2', b'"seq":2.0'), "integers, not 2.0"),
    ("seq with exponent", _BASE_TEXT.replace(b'"seq":2', b'"seq":2e0'), "integers, not 2e0"),
    ("seq minus zero", _BASE_TEXT.replace(b'"seq":2', b'"seq":-0'), "canonical|seq 0 is"),
    ("seq leading zero", _BASE_TEXT.replace(b'"seq":2', b'"seq":02'), "not JSON"),
    ("seq too large", _with(seq=2**63), "'seq' must be an integer from 0 to 2\\^63-1"),
    ("seq huge", _BASE_TEXT.replace(b'"seq":2', b'"seq":' + b"9" * 5000), "not acceptable JSON"),
    ("seq NaN", _BASE_TEXT.replace(b'"seq":2', b'"seq":NaN'), "NaN is not JSON"),
    ("count as a float", _BASE_TEXT.replace(b'"size":1234', b'"size":1234.0'), "integers"),
    (
        "count as a string",
        _body_with(evidence=[{**_BASE["body"]["evidence"][0], "size": "1"}]),
        "invalid body.*size",
    ),
    ("prev too short", _with(prev=PREV.hex()[:-2]), "'prev' must be 64 lowercase hex"),
    ("prev too long", _with(prev=PREV.hex() + "00"), "'prev' must be 64 lowercase hex"),
    ("prev uppercase", _with(prev=PREV.hex().upper()), "'prev' must be 64 lowercase hex"),
    ("prev as base64", _with(prev=base64.b64encode(PREV).decode()), "'prev' must be 64"),
    ("prev missing at seq 2", _with(prev=_DROP), "'prev' is required for seq > 1"),
    ("prev present at seq 1", _with(seq=1), "absent otherwise \\(seq 1\\)"),
    ("seq 0 not genesis", _with(seq=0, prev=_DROP), "seq 0 is the genesis"),
    ("genesis at seq 1", _dumps({**_GENESIS, "seq": 1}), "seq 0 is the genesis"),
    (
        "genesis by a later founder",
        _dumps({**_GENESIS, "author": "ministry-b"}),
        "first founder 'ministry-a', not 'ministry-b'",
    ),
    ("issued_at with offset", _with(issued_at="2026-11-27T21:00:00+00:00"), "issued_at"),
    ("issued_at lowercase z", _with(issued_at="2026-11-27t21:00:00z"), "issued_at"),
    ("issued_at fraction", _with(issued_at="2026-11-27T21:00:00.000Z"), "issued_at"),
    ("issued_at no seconds", _with(issued_at="2026-11-27T21:00Z"), "issued_at"),
    ("issued_at month 13", _with(issued_at="2026-13-27T21:00:00Z"), "issued_at"),
    ("issued_at a number", _with(issued_at=1790000000), "'issued_at' must be a string"),
    ("unknown tlp", _with(tlp="WHITE"), "'tlp' must be one of"),
    ("lowercase tlp", _with(tlp="amber"), "'tlp' must be one of"),
    ("unknown pap", _with(pap="AMBER+STRICT"), "'pap' must be one of"),
    ("group not a slug", _with(group="CBM East"), "'group' must be a slug"),
    ("author not a party id", _with(author="Ministry-A"), "'author' must be a party id"),
    ("extra whitespace", _BASE_TEXT.replace(b'"seq":2', b'"seq": 2'), "canonical"),
    ("pretty printed", json.dumps(_BASE, indent=1, sort_keys=True).encode(), "canonical"),
    ("trailing newline", _BASE_TEXT + b"\n", "canonical"),
    (
        "unsorted keys",
        json.dumps(
            dict(reversed(_BASE.items())), separators=(",", ":"), ensure_ascii=False
        ).encode(),
        "canonical",
    ),
    (
        "unsorted body keys",
        _with(kind="ping.ack", body=_DROP)[:-1] + b',"body":{"ping":"p"}}',
        "canonical",
    ),
    (
        "escaped unicode",
        _dumps({**_BASE, "body": {**_BASE["body"], "title": "Scanning é"}}).replace(
            "é".encode(), b"\\u00e9"
        ),
        "canonical",
    ),
    ("escaped ascii", _BASE_TEXT.replace(b'"tlp"', b'"\\u0074lp"'), "canonical"),
    ("escaped slash", _BASE_TEXT.replace(b'"ministry-a"', b'"ministry\\/a"'), "canonical|author"),
    ("too large", b" " * (MAX_ENTRY_SIZE + 1), "at most 65535 bytes"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_payloads(data: bytes, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        parse_statement(data)


def test_base_payload_is_valid() -> None:
    assert encode_statement(parse_statement(_BASE_TEXT)) == _BASE_TEXT
    assert _dumps(_GENESIS) == encode_statement(parse_statement(_dumps(_GENESIS)))


_INVALID = [(k, why, body) for k, cases in INVALID_BODIES.items() for why, body in cases]


def test_every_kind_has_an_invalid_example() -> None:
    assert set(INVALID_BODIES) == set(KINDS)
    assert all(len(cases) >= 1 for cases in INVALID_BODIES.values())


@pytest.mark.parametrize(
    ("kind", "body"), [(k, b) for k, _, b in _INVALID], ids=[f"{k}: {w}" for k, w, _ in _INVALID]
)
def test_invalid_body_for_every_kind(kind: str, body: dict[str, Any]) -> None:
    obj = _wire(_numbered(kind))
    obj["body"] = body
    with pytest.raises(MalformedError, match=f"invalid body for {kind}"):
        parse_statement(_dumps(obj))


# -- Statement invariants ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "nope"}, "unknown statement kind"),
        ({"body": PingAck(ping="x")}, "must be a IncidentRespond, not PingAck"),
        ({"issued_at": dt.datetime(2026, 1, 1)}, "UTC"),
        ({"issued_at": ISSUED_AT.replace(microsecond=5)}, "whole seconds"),
        ({"issued_at": "2026-11-27T21:00:00Z"}, "issued_at"),
        ({"tlp": "GREEN"}, "'tlp' must be a Tlp"),
        ({"pap": "GREEN"}, "'pap' must be a Pap"),
        ({"prev": PREV[:31]}, "32-byte"),
        ({"prev": PREV.hex()}, "32-byte"),
        ({"seq": True}, "'seq'"),
        ({"seq": 1}, "'prev' is required for seq > 1 and absent"),
        ({"group": "-x"}, "slug"),
        ({"author": "a"}, "party id"),
    ],
)
def test_statement_checks_its_invariants(changes: dict[str, Any], message: str) -> None:
    fields = _fields(_numbered("incident.respond"))
    fields.update(changes)
    with pytest.raises(MalformedError, match=message):
        Statement(**fields)


def test_issued_at_in_another_zone_with_zero_offset_is_accepted() -> None:
    zero = dt.timezone(dt.timedelta(0), "Z0")
    fields = {**_fields(_numbered("ping.ack")), "issued_at": ISSUED_AT.astimezone(zero)}
    st_ = Statement(**fields)
    assert parse_statement(encode_statement(st_)) == st_


# -- entries -----------------------------------------------------------------------------------


def test_open_entry_refuses_oversized_before_parsing() -> None:
    with pytest.raises(TooLargeError, match="not 65536"):
        open_entry(b"x" * (MAX_ENTRY_SIZE + 1))


def test_make_entry_refuses_an_oversized_entry() -> None:
    evidence = tuple(
        Evidence(sha256=PREV, name=f"{i:03d}" + "n" * 197, media_type="text/plain", size=i)
        for i in range(256)
    )
    body = VALID_BODIES["incident.notify"].model_copy(update={"evidence": evidence})
    big = statement("incident.notify", body=body)
    with pytest.raises(TooLargeError, match="at most 65535 bytes"):
        make_entry(big, [party_key("ministry-a")])


def test_open_entry_reports_payload_problems_as_malformed() -> None:
    envelope = sign_envelope(b'{"kind":"ping.ack"}', [party_key("ministry-a")])
    with pytest.raises(MalformedError, match="missing field"):
        open_entry(envelope.to_bytes())


def test_payload_tampered_after_signing_does_not_verify() -> None:
    signed = make_entry(statement("incident.respond"), [party_key("ministry-a")])
    other = encode_statement(
        statement(
            "incident.respond",
            body=IncidentRespond(incident="inc-2026-001", response=Response.DENY, text="No."),
        )
    )
    forged = Envelope(signed.envelope.payload_type, other, signed.envelope.signatures)
    opened = open_entry(forged.to_bytes())  # well-formed
    with pytest.raises(SignatureError):
        verify_signature(opened.envelope, public_key("ministry-a"))


# -- Hypothesis --------------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=40)
_times = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(9999, 1, 1),
).map(lambda t: t.replace(microsecond=0, tzinfo=dt.UTC))
_party_ids = st.from_regex(r"[a-z][a-z0-9-]{1,31}", fullmatch=True)
_slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)

_bodies = st.one_of(
    st.sampled_from(sorted(VALID_BODIES.items())),
    st.builds(lambda t: ("party.leave", PartyLeave(reason=t)), _text),
    st.builds(lambda: ("party.leave", PartyLeave())),
    st.builds(
        lambda t, r: (
            "incident.respond",
            IncidentRespond(incident="inc", response=r, text=t),
        ),
        _text,
        st.sampled_from(Response),
    ),
    st.builds(
        lambda names: (
            "contact.update",
            ContactUpdate(contacts=tuple(Contact(role=ContactRole.POLICY, name=n) for n in names)),
        ),
        st.lists(_text, max_size=3),
    ),
)


@st.composite
def _statements(draw: st.DrawFn) -> Statement:
    kind, body = draw(_bodies)
    if kind == "group.genesis":
        return Statement(
            kind=kind,
            group=draw(_slugs),
            author=FOUNDERS[0],
            seq=0,
            prev=None,
            issued_at=draw(_times),
            tlp=draw(st.sampled_from(Tlp)),
            pap=draw(st.none() | st.sampled_from(Pap)),
            body=body,
        )
    seq = draw(st.integers(1, 2**63 - 1))
    return Statement(
        kind=kind,
        group=draw(_slugs),
        author=draw(_party_ids),
        seq=seq,
        prev=None if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
        issued_at=draw(_times),
        tlp=draw(st.sampled_from(Tlp)),
        pap=draw(st.none() | st.sampled_from(Pap)),
        body=body,
    )


@given(_statements())
def test_encode_parse_round_trip(st_: Statement) -> None:
    payload = encode_statement(st_)
    assert parse_statement(payload) == st_
    assert encode_statement(parse_statement(payload)) == payload
    # Canonical is exactly json.dumps(sort_keys, compact, raw UTF-8) of the wire object.
    assert _dumps(json.loads(payload)) == payload


@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_malformed(data: bytes) -> None:
    try:
        signed = open_entry(data)
    except MalformedError:  # includes TooLargeError
        return
    assert signed.entry == data


_SIGNED = make_entry(_numbered("incident.notify"), [party_key("ministry-a")])
_KEY = public_key("ministry-a")


def _check_mutant(entry: bytes) -> None:
    try:
        opened = open_entry(entry)
    except MalformedError:
        return
    # What parses is canonical: one statement, one spelling.
    assert opened.envelope.to_bytes() == entry
    assert encode_statement(opened.statement) == opened.envelope.payload
    if entry == _SIGNED.entry:
        verify_signature(opened.envelope, _KEY)
    else:
        with pytest.raises(SignatureError):
            verify_signature(opened.envelope, _KEY)


@settings(max_examples=300)
@given(st.integers(0, len(_SIGNED.entry) - 1), st.integers(0, 255))
def test_single_byte_mutation_of_an_entry(index: int, value: int) -> None:
    mutated = bytearray(_SIGNED.entry)
    mutated[index] = value
    _check_mutant(bytes(mutated))


@settings(max_examples=300)
@given(st.integers(0, len(_SIGNED.envelope.payload) - 1), st.integers(0, 255))
def test_single_byte_mutation_of_a_payload_under_the_same_signature(index: int, value: int) -> None:
    payload = bytearray(_SIGNED.envelope.payload)
    payload[index] = value
    envelope = Envelope(_SIGNED.envelope.payload_type, bytes(payload), _SIGNED.envelope.signatures)
    _check_mutant(envelope.to_bytes())


def test_a_payload_mutation_that_still_parses_is_caught_by_the_signature() -> None:
    # Make sure the property above really meets mutants that parse: flip the tlp.
    payload = _SIGNED.envelope.payload.replace(b'"tlp":"GREEN"', b'"tlp":"AMBER"')
    envelope = Envelope(_SIGNED.envelope.payload_type, payload, _SIGNED.envelope.signatures)
    opened = open_entry(envelope.to_bytes())
    assert opened.statement.tlp is Tlp.AMBER
    with pytest.raises(SignatureError):
        verify_signature(opened.envelope, _KEY)


def test_issued_at_in_other_digits_is_refused() -> None:
    with pytest.raises(MalformedError, match="issued_at"):
        parse_statement(_with(issued_at="٢٠٢٦-11-27T21:00:00Z"))


def test_public_api_matches_the_contract() -> None:
    import detente.statements as package

    contract = {
        "PAYLOAD_TYPE", "MAX_ENTRY_SIZE", "pae", "Signature", "Envelope", "key_id",
        "sign_envelope", "verify_signature", "Statement", "parse_statement",
        "encode_statement", "entry_hash", "SignedStatement", "open_entry", "make_entry",
    }  # fmt: skip
    assert contract <= set(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)


@pytest.mark.slow
def test_every_single_byte_mutation_of_a_payload() -> None:
    # Exhaustive version of the Hypothesis property above (about 170,000 mutants).
    payload = _SIGNED.envelope.payload
    for index in range(len(payload)):
        for value in range(256):
            mutated = bytearray(payload)
            mutated[index] = value
            envelope = Envelope(
                _SIGNED.envelope.payload_type, bytes(mutated), _SIGNED.envelope.signatures
            )
            _check_mutant(envelope.to_bytes())

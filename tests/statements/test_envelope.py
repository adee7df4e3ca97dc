"""DSSE v1 envelopes: PAE, keyids, signing, strict canonical parsing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from examples import party_key, public_key
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError, SignatureError, TooLargeError
from detente.statements import (
    MAX_ENTRY_SIZE,
    MAX_SIGNATURES,
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    key_id,
    pae,
    sign_envelope,
    verify_signature,
)

PAYLOAD = b'{"hello":"world"}'


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _wire(envelope: Envelope) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(envelope.to_bytes())
    return obj


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- PAE and keyid ---------------------------------------------------------------------------


def test_pae_known_answer_from_the_dsse_spec() -> None:
    # secure-systems-lab/dsse, protocol.md, "Signature definition" example.
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "
    assert pae("é", "ü".encode()) == "DSSEv1 2 é 2 ü".encode()


def test_key_id_known_answer() -> None:
    # RFC 8032 section 7.1 TEST 1 public key; expected value from
    # `printf d75a...511a | xxd -r -p | sha256sum | cut -c1-16`.
    rfc8032_test1 = bytes.fromhex(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key_id(rfc8032_test1) == "21fe31dfa154a261"


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_key_id_refuses_wrong_key_size(size: int) -> None:
    with pytest.raises(MalformedError, match=f"not {size}"):
        key_id(b"\x01" * size)


# -- signing and verifying -------------------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("ministry-a")])
    assert envelope.payload_type == PAYLOAD_TYPE
    assert [s.keyid for s in envelope.signatures] == [key_id(public_key("ministry-a"))]
    verify_signature(envelope, public_key("ministry-a"))
    parsed = Envelope.from_bytes(envelope.to_bytes())
    assert parsed == envelope
    verify_signature(parsed, public_key("ministry-a"))


def test_signature_is_over_pae() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("ministry-a")])
    party_key("ministry-a").public_key().verify(
        envelope.signatures[0].sig, pae(PAYLOAD_TYPE, PAYLOAD)
    )


def test_genesis_is_signed_by_every_founder() -> None:
    founders = ["ministry-a", "ministry-b", "ministry-c"]
    envelope = Envelope.from_bytes(
        sign_envelope(PAYLOAD, [party_key(f) for f in founders]).to_bytes()
    )
    assert len(envelope.signatures) == 3
    keyids = [s.keyid for s in envelope.signatures]
    assert keyids == sorted(keyids)  # canonical order, whatever order the keys came in
    for founder in founders:
        verify_signature(envelope, public_key(founder))
    with pytest.raises(SignatureError, match="no signature by key"):
        verify_signature(envelope, public_key("ministry-d"))


def test_key_rotation_is_signed_by_old_and_new_key() -> None:
    old, new = party_key("ministry-a"), party_key("ministry-a/2")
    forward = sign_envelope(PAYLOAD, [old, new])
    assert forward == sign_envelope(PAYLOAD, [new, old])  # order of keys does not matter
    verify_signature(forward, public_key("ministry-a"))
    verify_signature(forward, public_key("ministry-a/2"))


def test_max_signatures() -> None:
    keys = [party_key(f"p{i}") for i in range(MAX_SIGNATURES + 1)]
    envelope = sign_envelope(PAYLOAD, keys[:MAX_SIGNATURES])
    assert Envelope.from_bytes(envelope.to_bytes()) == envelope
    with pytest.raises(MalformedError, match="at most 8 signatures, not 9"):
        sign_envelope(PAYLOAD, keys)


def test_no_keys_no_envelope() -> None:
    with pytest.raises(MalformedError, match="at least one signature"):
        sign_envelope(PAYLOAD, [])


def test_the_same_key_twice_is_refused() -> None:
    with pytest.raises(MalformedError, match="without repeats"):
        sign_envelope(PAYLOAD, [party_key("ministry-a"), party_key("ministry-a")])


def test_forged_signature_is_a_signature_error() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("ministry-a")])
    sig = envelope.signatures[0]
    forged = bytes([sig.sig[0] ^ 1]) + sig.sig[1:]
    tampered = Envelope(PAYLOAD_TYPE, PAYLOAD, (Signature(sig.keyid, forged),))
    parsed = Envelope.from_bytes(tampered.to_bytes())  # well-formed...
    with pytest.raises(SignatureError, match="does not verify"):  # ...but false
        verify_signature(parsed, public_key("ministry-a"))


def test_changed_payload_is_a_signature_error() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("ministry-a")])
    tampered = Envelope(PAYLOAD_TYPE, b'{"hello":"world!"}', envelope.signatures)
    with pytest.raises(SignatureError):
        verify_signature(tampered, public_key("ministry-a"))


def test_signature_by_another_key_under_the_right_keyid() -> None:
    # Mallory signs and labels her signature with Alice's keyid.
    mallory = sign_envelope(PAYLOAD, [party_key("mallory")]).signatures[0]
    claimed = Envelope(
        PAYLOAD_TYPE, PAYLOAD, (Signature(key_id(public_key("ministry-a")), mallory.sig),)
    )
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(claimed, public_key("ministry-a"))


def test_signature_by_another_key() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("mallory")])
    with pytest.raises(SignatureError, match="no signature by key"):
        verify_signature(envelope, public_key("ministry-a"))


def test_verify_refuses_a_malformed_public_key() -> None:
    envelope = sign_envelope(PAYLOAD, [party_key("ministry-a")])
    with pytest.raises(MalformedError, match="not 31"):
        verify_signature(envelope, b"\x00" * 31)


def test_short_signature_is_malformed_not_forged() -> None:
    good = _wire(sign_envelope(PAYLOAD, [party_key("ministry-a")]))
    good["signatures"][0]["sig"] = _b64(b"\x00" * 63)
    with pytest.raises(MalformedError, match="64 bytes, not 63") as info:
        Envelope.from_bytes(_dumps(good))
    assert not isinstance(info.value, SignatureError)


# -- strict parsing --------------------------------------------------------------------------

_GOOD = sign_envelope(PAYLOAD, [party_key("ministry-a")])
_GOOD_BYTES = _GOOD.to_bytes()
_SIG = _GOOD.signatures[0]
_P64 = _b64(PAYLOAD)
_S64 = _b64(_SIG.sig)
_KID = _SIG.keyid
_HEAD = f'{{"payload":"{_P64}","payloadType":"{PAYLOAD_TYPE}","signatures":'


def _sigs(n: int) -> list[dict[str, str]]:
    keys = sorted((key_id(public_key(f"p{i}")), f"p{i}") for i in range(n))
    return [{"keyid": k, "sig": _S64} for k, _ in keys]


MALFORMED: list[tuple[str, bytes, str]] = [
    ("empty", b"", "not JSON"),
    ("invalid JSON", _GOOD_BYTES[:-1], "not JSON"),
    ("trailing garbage", _GOOD_BYTES + b"x", "not JSON"),
    ("not UTF-8", _GOOD_BYTES.replace(b"application", b"applic\xe9tion"), "not UTF-8"),
    ("UTF-8 BOM", b"\xef\xbb\xbf" + _GOOD_BYTES, "not JSON"),
    ("UTF-16", _GOOD_BYTES.decode().encode("utf-16"), "UTF-8"),
    ("a list", b"[]", "JSON object"),
    ("a string", b'"x"', "JSON object"),
    (
        "duplicate top-level key",
        _HEAD.encode() + f'[{{"keyid":"{_KID}","sig":"{_S64}"}}],"payload":"{_P64}"}}'.encode(),
        "duplicate key 'payload'",
    ),
    (
        "duplicate key in a signature",
        _HEAD.encode() + f'[{{"keyid":"{_KID}","keyid":"{_KID}","sig":"{_S64}"}}]}}'.encode(),
        "duplicate key 'keyid'",
    ),
    ("unknown field", _GOOD_BYTES[:-1] + b',"extra":"x"}', "unknown field.*extra"),
    (
        "unknown signature field",
        _HEAD.encode() + f'[{{"keyid":"{_KID}","sig":"{_S64}","x":"y"}}]}}'.encode(),
        r"unknown field.*signatures\[0\].*x",
    ),
    (
        "missing field",
        _dumps({"payload": _P64, "payloadType": PAYLOAD_TYPE}),
        "missing.*signatures",
    ),
    (
        "missing keyid",
        _HEAD.encode() + f'[{{"sig":"{_S64}"}}]}}'.encode(),
        "missing.*keyid",
    ),
    (
        "wrong payloadType",
        _GOOD_BYTES.replace(PAYLOAD_TYPE.encode(), b"application/vnd.in-toto+json"),
        "payloadType must be",
    ),
    ("payloadType not a string", _GOOD_BYTES.replace(f'"{PAYLOAD_TYPE}"'.encode(), b"7"), "string"),
    ("null payload", _GOOD_BYTES.replace(f'"{_P64}"'.encode(), b"null"), "null"),
    ("float", _GOOD_BYTES.replace(f'"{PAYLOAD_TYPE}"'.encode(), b"1.5"), "integers, not 1.5"),
    ("NaN", _GOOD_BYTES.replace(f'"{PAYLOAD_TYPE}"'.encode(), b"NaN"), "NaN is not JSON"),
    ("payload not base64", _GOOD_BYTES.replace(_P64.encode(), b"%%%%"), "not standard base64"),
    (
        "payload url-safe base64",
        _GOOD_BYTES.replace(_P64.encode(), _b64(b"\xfb\xff").replace("+", "-").encode()),
        "base64",
    ),
    (
        "payload missing padding",
        _GOOD_BYTES.replace(_P64.encode(), _P64.rstrip("=").encode()),
        "base64",
    ),
    ("payload non-zero pad bits", _GOOD_BYTES.replace(_P64.encode(), b"QR=="), "not canonical"),
    (
        "payload with newline",
        _GOOD_BYTES.replace(_P64.encode(), (_P64[:4] + "\\n" + _P64[4:]).encode()),
        "base64",
    ),
    (
        "sig non-zero pad bits",
        _GOOD_BYTES.replace(_S64.encode(), (_S64[:-3] + "B==").encode()),
        "base64",
    ),
    ("sig not a string", _GOOD_BYTES.replace(f'"{_S64}"'.encode(), b"[]"), "base64 string"),
    ("signatures not a list", _HEAD.encode() + b'{"keyid":"x"}}', "must be a list"),
    (
        "signature not an object",
        _HEAD.encode() + b'["x"]}',
        r"signatures\[0\] must be a JSON object",
    ),
    ("no signatures", _HEAD.encode() + b"[]}", "1 to 8 signatures, not 0"),
    ("nine signatures", _HEAD.encode() + _dumps(_sigs(9)) + b"}", "1 to 8 signatures, not 9"),
    (
        "signatures out of order",
        _HEAD.encode() + _dumps(list(reversed(_sigs(2)))) + b"}",
        "sorted by keyid",
    ),
    ("repeated keyid", _HEAD.encode() + _dumps(_sigs(1) * 2) + b"}", "without repeats"),
    ("uppercase keyid", _GOOD_BYTES.replace(_KID.encode(), _KID.upper().encode()), "keyid must be"),
    ("short keyid", _GOOD_BYTES.replace(_KID.encode(), _KID[:-1].encode()), "keyid must be"),
    (
        "keyid not a string",
        _GOOD_BYTES.replace(f'"{_KID}"'.encode(), b"1"),
        "keyid must be a string",
    ),
    ("space after colon", _GOOD_BYTES.replace(b'"payload":', b'"payload": '), "canonical"),
    ("newline at the end", _GOOD_BYTES + b"\n", "canonical"),
    ("pretty printed", json.dumps(_wire(_GOOD), indent=2, sort_keys=True).encode(), "canonical"),
    (
        "unsorted keys",
        f'{{"payloadType":"{PAYLOAD_TYPE}","payload":"{_P64}","signatures":'
        f'[{{"keyid":"{_KID}","sig":"{_S64}"}}]}}'.encode(),
        "canonical",
    ),
    (
        "unsorted signature keys",
        _HEAD.encode() + f'[{{"sig":"{_S64}","keyid":"{_KID}"}}]}}'.encode(),
        "canonical",
    ),
    ("escaped slash", _GOOD_BYTES.replace(b"application/", b"application\\/"), "canonical"),
    ("escaped letter", _GOOD_BYTES.replace(b'"keyid"', b'"\\u006beyid"'), "canonical"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_envelopes(data: bytes, message: str) -> None:
    with pytest.raises(MalformedError, match=message) as info:
        Envelope.from_bytes(data)
    assert type(info.value) is MalformedError


def test_good_envelope_parses() -> None:
    assert Envelope.from_bytes(_GOOD_BYTES) == _GOOD
    assert Envelope.from_bytes(_GOOD_BYTES).to_bytes() == _GOOD_BYTES


def test_too_large_before_parsing() -> None:
    # Garbage of one byte over the limit: the size is what is reported, not the garbage.
    with pytest.raises(TooLargeError, match="65535 bytes, not 65536"):
        Envelope.from_bytes(b"{" * (MAX_ENTRY_SIZE + 1))
    with pytest.raises(MalformedError) as info:
        Envelope.from_bytes(b"{" * MAX_ENTRY_SIZE)
    assert type(info.value) is MalformedError


def test_constructor_checks_invariants() -> None:
    with pytest.raises(MalformedError, match="payloadType"):
        Envelope("application/json", PAYLOAD, _GOOD.signatures)
    with pytest.raises(MalformedError, match="tuple of Signature"):
        Envelope(PAYLOAD_TYPE, PAYLOAD, list(_GOOD.signatures))  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match="keyid"):
        Signature("not-hex", _SIG.sig)


def test_envelopes_are_frozen() -> None:
    with pytest.raises(AttributeError):
        _GOOD.payload = b"x"  # type: ignore[misc]


@given(st.binary(max_size=300))
def test_random_bytes_are_only_ever_malformed(data: bytes) -> None:
    try:
        envelope = Envelope.from_bytes(data)
    except MalformedError:
        return
    assert envelope.to_bytes() == data  # whatever parses is canonical


@given(st.integers(0, len(_GOOD_BYTES) - 1), st.integers(0, 255))
def test_mutated_envelope_is_malformed_or_fails_to_verify(index: int, value: int) -> None:
    mutated = bytearray(_GOOD_BYTES)
    mutated[index] = value
    try:
        envelope = Envelope.from_bytes(bytes(mutated))
    except MalformedError:
        return
    if bytes(mutated) == _GOOD_BYTES:
        verify_signature(envelope, public_key("ministry-a"))
    else:
        with pytest.raises(SignatureError):
            verify_signature(envelope, public_key("ministry-a"))


def test_random_keys_round_trip() -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    envelope = Envelope.from_bytes(sign_envelope(PAYLOAD, keys).to_bytes())
    for key in keys:
        verify_signature(envelope, key.public_key().public_bytes_raw())

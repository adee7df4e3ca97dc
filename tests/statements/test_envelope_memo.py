"""The memo of pre-verified signatures: a hit is exactly as strong as a verification.

``preverify`` remembers successful verifications; ``verify_signature`` answers from them.
These tests check that no change to the message, the signature or the key after a success
ever passes, that failures are never remembered, that the memo is bounded and that it holds
up under threads.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from examples import party_key, public_key
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError, SignatureError
from detente.statements import envelope as envelope_module
from detente.statements.envelope import (
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    key_id,
    preverify,
    sign_envelope,
    split_canonical_array,
    verify_signature,
)

SIGNER = "memo-signer"
OTHER = "memo-other"


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> envelope_module._VerifiedMemo:
    """Each test gets its own empty memo (the module's is shared by the whole process)."""
    memo = envelope_module._VerifiedMemo(envelope_module._MEMO_SIZE)
    monkeypatch.setattr(envelope_module, "_VERIFIED", memo)
    return memo


def _memo() -> envelope_module._VerifiedMemo:
    return envelope_module._VERIFIED


def _signed(payload: bytes, signer: str = SIGNER) -> Envelope:
    return sign_envelope(payload, [party_key(signer)])


def _flip(data: bytes, position: int, bit: int) -> bytes:
    index = position % len(data)
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


def _with_signature(envelope: Envelope, keyid: str, sig: bytes) -> Envelope:
    return Envelope(envelope.payload_type, envelope.payload, (Signature(keyid, sig),))


# -- hits -----------------------------------------------------------------------------------


def test_a_preverified_signature_is_a_memo_hit() -> None:
    envelope = _signed(b'{"n":1}')
    assert preverify([(envelope, public_key(SIGNER))]) == 1
    assert len(_memo()) == 1
    verify_signature(envelope, public_key(SIGNER))
    # verify_signature itself remembers nothing: the memo is only what preverify put there.
    verify_signature(_signed(b'{"n":2}'), public_key(SIGNER))
    assert len(_memo()) == 1


def test_a_hit_skips_the_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = _signed(b'{"n":1}')
    preverify([(envelope, public_key(SIGNER))])
    calls = []
    real = envelope_module._load_key

    class Counting:
        def __init__(self, verifier: object) -> None:
            self._verifier = verifier

        def verify(self, sig: bytes, message: bytes) -> None:
            calls.append(message)
            self._verifier.verify(sig, message)  # type: ignore[attr-defined]

    def load(raw: bytes) -> tuple[str, object]:
        keyid, verifier = real(raw)
        return keyid, Counting(verifier)

    monkeypatch.setattr(envelope_module, "_load_key", load)
    verify_signature(envelope, public_key(SIGNER))
    assert calls == []
    verify_signature(_signed(b'{"n":2}'), public_key(SIGNER))
    assert len(calls) == 1


# -- a hit is never weaker than a verification ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=200),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_a_changed_message_still_fails(payload: bytes, position: int, bit: int) -> None:
    envelope = _signed(payload)
    assert preverify([(envelope, public_key(SIGNER))]) == 1
    forged = Envelope(PAYLOAD_TYPE, _flip(payload, position, bit), envelope.signatures)
    with pytest.raises(SignatureError):
        verify_signature(forged, public_key(SIGNER))
    verify_signature(envelope, public_key(SIGNER))  # the original still verifies


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=200),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_a_changed_signature_still_fails(payload: bytes, position: int, bit: int) -> None:
    envelope = _signed(payload)
    assert preverify([(envelope, public_key(SIGNER))]) == 1
    [signature] = envelope.signatures
    forged = _with_signature(envelope, signature.keyid, _flip(signature.sig, position, bit))
    with pytest.raises(SignatureError):
        verify_signature(forged, public_key(SIGNER))


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=200),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_a_changed_key_still_fails(payload: bytes, position: int, bit: int) -> None:
    envelope = _signed(payload)
    assert preverify([(envelope, public_key(SIGNER))]) == 1
    [signature] = envelope.signatures
    key = _flip(public_key(SIGNER), position, bit)
    try:
        keyid = key_id(key)
    except MalformedError:  # pragma: no cover - every 32-byte string has a keyid
        return
    # Relabel the signature with the changed key's keyid, so that the lookup reaches the
    # memo with everything equal but the key: it must still be a miss, and fail.
    relabelled = _with_signature(envelope, keyid, signature.sig)
    with pytest.raises((SignatureError, MalformedError)):
        verify_signature(relabelled, key)
    with pytest.raises((SignatureError, MalformedError)):
        verify_signature(envelope, key)


def test_another_key_with_the_same_signature_fails() -> None:
    envelope = _signed(b'{"n":1}')
    preverify([(envelope, public_key(SIGNER))])
    [signature] = envelope.signatures
    relabelled = _with_signature(envelope, key_id(public_key(OTHER)), signature.sig)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(relabelled, public_key(OTHER))


# -- failures are never remembered ----------------------------------------------------------


def test_failures_are_not_remembered() -> None:
    envelope = _signed(b'{"n":1}')
    [signature] = envelope.signatures
    forged = _with_signature(envelope, signature.keyid, bytes(64))
    pairs = [
        (forged, public_key(SIGNER)),  # a bad signature
        (envelope, public_key(OTHER)),  # no signature by that key
        (envelope, b"\x00" * 31),  # not a key at all
    ]
    assert preverify(pairs) == 0
    assert len(_memo()) == 0
    with pytest.raises(SignatureError):
        verify_signature(forged, public_key(SIGNER))
    with pytest.raises(MalformedError):
        verify_signature(envelope, b"\x00" * 31)


# -- bound ----------------------------------------------------------------------------------


def test_the_memo_is_bounded_and_forgets_the_oldest() -> None:
    memo = envelope_module._VerifiedMemo(3)
    keys = [(bytes([n]) * 32, "k", bytes(64), bytes(32)) for n in range(5)]
    for key in keys:
        memo.add(key)
    assert len(memo) == 3
    assert [key in memo for key in keys] == [False, False, True, True, True]
    memo.add(keys[2])  # a repeat is refreshed, not added twice
    memo.add(keys[0])
    assert len(memo) == 3
    assert [key in memo for key in keys] == [True, False, True, False, True]
    with pytest.raises(MalformedError):
        envelope_module._VerifiedMemo(0)


def test_forgotten_entries_are_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "_VERIFIED", envelope_module._VerifiedMemo(2))
    envelopes = [_signed(b'{"n":%d}' % n) for n in range(5)]
    assert preverify([(e, public_key(SIGNER)) for e in envelopes]) == 5
    assert len(_memo()) == 2
    for envelope in envelopes:
        verify_signature(envelope, public_key(SIGNER))


# -- threads --------------------------------------------------------------------------------


def test_preverify_over_an_executor() -> None:
    envelopes = [_signed(b'{"n":%d}' % n) for n in range(100)]
    bad = _with_signature(envelopes[0], envelopes[0].signatures[0].keyid, bytes(64))
    pairs = [(e, public_key(SIGNER)) for e in envelopes] + [(bad, public_key(SIGNER))]
    with ThreadPoolExecutor(4) as pool:
        assert preverify(pairs, pool) == 100
    assert len(_memo()) == 100
    with pytest.raises(SignatureError):
        verify_signature(bad, public_key(SIGNER))


def test_the_memo_holds_up_under_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "_VERIFIED", envelope_module._VerifiedMemo(16))
    good = [_signed(b'{"n":%d}' % n) for n in range(64)]
    forged = [
        _with_signature(e, e.signatures[0].keyid, _flip(e.signatures[0].sig, n, 0))
        for n, e in enumerate(good)
    ]
    key = public_key(SIGNER)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                chunk = good[(worker * 8 + round_) % 64 :][:16]
                preverify([(e, key) for e in chunk])
                for envelope in chunk:
                    verify_signature(envelope, key)
                for envelope in forged[worker * 8 : worker * 8 + 8]:
                    with pytest.raises(SignatureError):
                        verify_signature(envelope, key)
                if len(_memo()) > 16:
                    raise AssertionError(f"the memo grew to {len(_memo())}")
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert 0 < len(_memo()) <= 16


# -- batches of canonical envelopes ---------------------------------------------------------


def _reencoded(body: bytes) -> list[bytes]:
    return [
        json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        for item in json.loads(body)
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=6))
def test_split_canonical_array_is_decode_and_reencode(payloads: list[bytes]) -> None:
    entries = [_signed(p).to_bytes() for p in payloads]
    body = b"[" + b",".join(entries) + b"]"
    assert split_canonical_array(body) == entries == _reencoded(body)


@pytest.mark.parametrize(
    "shape",
    [
        "[]",
        "[{e}, {e}]",
        "[{e},{e},]",
        " [{e}]",
        "[{e}]\n",
        "{e}",
        "[{e}{e}]",
        '[{e},{{"payload":"","payloadType":"x","signatures":[]}}]',
        "[[{e}]]",
    ],
)
def test_split_canonical_array_leaves_anything_else_to_the_general_path(shape: str) -> None:
    entry = _signed(b'{"n":1}').to_bytes().decode()
    assert split_canonical_array(shape.format(e=entry).encode()) is None

"""The cache of parsed envelopes: a hit is the envelope the same bytes parse to, nothing else."""

from __future__ import annotations

import pytest
from examples import party_key
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError
from detente.statements import envelope as envelope_module
from detente.statements.envelope import Envelope, sign_envelope


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "_PARSED", type(envelope_module._PARSED)())


def _entry(payload: bytes) -> bytes:
    return sign_envelope(payload, [party_key("parsed-signer")]).to_bytes()


def test_the_same_bytes_parse_to_the_same_envelope_once() -> None:
    entry = _entry(b'{"a":1}')
    first = Envelope.from_bytes(entry)
    assert Envelope.from_bytes(bytes(entry)) is first  # equal bytes, another object: a hit
    assert first.to_bytes() == entry


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0), st.integers(0, 7))
def test_a_changed_byte_is_parsed_afresh(payload: bytes, position: int, bit: int) -> None:
    entry = _entry(payload)
    Envelope.from_bytes(entry)
    changed = bytearray(entry)
    changed[position % len(changed)] ^= 1 << bit
    try:
        envelope = Envelope.from_bytes(bytes(changed))
    except MalformedError:
        return
    assert envelope.to_bytes() == bytes(changed)  # whatever parses is what those bytes say


def test_a_non_canonical_spelling_is_still_refused_after_the_canonical_one() -> None:
    entry = _entry(b"x")
    Envelope.from_bytes(entry)
    with pytest.raises(MalformedError):
        Envelope.from_bytes(entry.replace(b'{"payload"', b'{ "payload"', 1))


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "_PARSED_SIZE", 3)
    entries = [_entry(b"%d" % i) for i in range(5)]
    for entry in entries:
        Envelope.from_bytes(entry)
    assert list(envelope_module._PARSED) == entries[2:]

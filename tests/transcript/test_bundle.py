"""The bundle file format: one canonical spelling, strict parsing, bounded sizes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.errors import MalformedError, TooLargeError
from detente.transcript import FORMAT, Bundle, EarlierCheckpoint, LoggedEntry, Subject
from detente.transcript.bundle import MAX_PROOF_LENGTH

HASH = st.binary(min_size=32, max_size=32)
PROOF = st.lists(HASH, max_size=6).map(tuple)
ENTRY = st.binary(min_size=1, max_size=300)


@st.composite
def bundles(draw: st.DrawFn) -> Bundle:
    indices = sorted(draw(st.sets(st.integers(1, 10_000), min_size=1, max_size=8)))
    split = draw(st.integers(1, len(indices)))
    entries = [LoggedEntry(i, draw(ENTRY), draw(PROOF)) for i in indices]
    subject = draw(
        st.sampled_from(
            [Subject.incident("inc-1"), Subject.agreement("accord"), Subject.range(1, 9)]
        )
    )
    earlier = tuple(
        EarlierCheckpoint(draw(ENTRY), draw(PROOF)) for _ in range(draw(st.integers(0, 2)))
    )
    return Bundle(
        subject=subject,
        genesis=LoggedEntry(0, draw(ENTRY), draw(PROOF)),
        statements=tuple(entries[:split]),
        key_history=tuple(entries[split:]),
        checkpoint=draw(ENTRY),
        earlier=earlier,
    )


@given(bundles())
def test_round_trip(bundle: Bundle) -> None:
    data = bundle.to_bytes()
    assert Bundle.from_bytes(data) == bundle
    obj = json.loads(data)
    assert obj["format"] == FORMAT
    assert data == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _sample() -> dict[str, object]:
    bundle = Bundle(
        Subject.range(1, 2),
        LoggedEntry(0, b"g", ()),
        (LoggedEntry(1, b"s", (b"\x00" * 32,)),),
        (),
        b"note",
    )
    obj: dict[str, object] = json.loads(bundle.to_bytes())
    return obj


def _encode(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.update(format="detente-transcript/v2"), "format must be"),
        (lambda o: o.update(extra=1), "unknown field"),
        (lambda o: o.pop("checkpoint"), "missing field"),
        (lambda o: o.update(statements=[]), "at least one statement"),
        (lambda o: o.update(subject={"type": "party", "id": "x"}), "subject type"),
        (lambda o: o.update(subject={"type": "range", "start": 3, "end": 3}), "is empty"),
        (lambda o: o.update(subject={"type": "range", "start": 0, "end": 3}), "range start"),
        (lambda o: o["statements"][0].update(index=True), "must be an integer"),
        (lambda o: o["statements"][0].update(index=0), "increase from 1"),
        (lambda o: o["genesis"].update(index=1), "index 0"),
        (lambda o: o["statements"][0].update(entry="cw"), "invalid base64"),
        (lambda o: o["statements"][0].update(entry="cx=="), "non-canonical base64"),
        (lambda o: o["statements"][0].update(proof=["AAAA"]), "expected 32"),
        (lambda o: o.update(key_history=o["statements"]), "both statements and key history"),
        (lambda o: o["statements"].append(o["statements"][0]), "must increase"),
        (lambda o: o.update(checkpoint=""), "checkpoint note is empty"),
    ],
)
def test_malformed_bundles(change: object, message: str) -> None:
    obj = _sample()
    change(obj)  # type: ignore[operator]
    with pytest.raises(MalformedError, match=message):
        Bundle.from_bytes(_encode(obj))


def test_non_canonical_spellings_are_refused() -> None:
    obj = _sample()
    canonical = _encode(obj)
    assert Bundle.from_bytes(canonical).to_bytes() == canonical
    spaced = json.dumps(obj, sort_keys=True).encode()
    unsorted = json.dumps(dict(reversed(list(obj.items()))), separators=(",", ":")).encode()
    for data in (spaced, unsorted, canonical + b"\n", b"\xef\xbb\xbf" + canonical):
        with pytest.raises(MalformedError):
            Bundle.from_bytes(data)
    duplicate = canonical.replace(b'{"checkpoint"', b'{"checkpoint":"bm90ZQ==","checkpoint"')
    with pytest.raises(MalformedError, match="duplicate key"):
        Bundle.from_bytes(duplicate)
    with pytest.raises(MalformedError, match="integers"):
        Bundle.from_bytes(canonical.replace(b'"index":1', b'"index":1.0'))


def test_limits() -> None:
    with pytest.raises(TooLargeError):
        LoggedEntry(1, b"x" * 65_536, ())
    with pytest.raises(MalformedError, match="more than"):
        LoggedEntry(1, b"x", (b"\x00" * 32,) * (MAX_PROOF_LENGTH + 1))
    with pytest.raises(TooLargeError):
        Bundle.from_bytes(b" " * (64 * 1024 * 1024 + 1))


@given(st.binary(max_size=200))
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        Bundle.from_bytes(data)


def test_subject_descriptions() -> None:
    assert Subject.incident("inc-1").describe() == "incident inc-1"
    assert Subject.range(2, 5).describe() == "entries 2 to 5 (exclusive)"
    with pytest.raises(MalformedError):
        Subject("incident", id="x", start=1)

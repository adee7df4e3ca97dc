"""Blob references: hex SHA-256, size, media type; parsed strictly."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto import blob
from detente.crypto.blob import BlobRef, parse_sha256
from detente.errors import MalformedError

DIGEST = hashlib.sha256(b"ciphertext").digest()


def test_public_api() -> None:
    assert set(blob.__all__) == {"BLOB_SHA256_LENGTH", "BlobRef", "parse_sha256"}


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(min_value=1, max_value=2**62),
    st.sampled_from([None, "application/json", "image/png", "text/plain; charset=utf-8"]),
)
def test_json_round_trip(digest: bytes, size: int, media: str | None) -> None:
    ref = BlobRef(digest, size, media)
    assert BlobRef.from_json(ref.to_json()) == ref
    assert parse_sha256(ref.hex) == digest


@given(st.text(max_size=70))
def test_parse_sha256_takes_only_64_lowercase_hex(text: str) -> None:
    try:
        parsed = parse_sha256(text)
    except MalformedError:
        return
    assert parsed.hex() == text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "JSON object"),
        ({"sha256": DIGEST.hex()}, "needs sha256 and size"),
        ({"sha256": DIGEST.hex().upper(), "size": 1}, "64 lowercase hex"),
        ({"sha256": DIGEST.hex(), "size": 0}, "integer >= 1"),
        ({"sha256": DIGEST.hex(), "size": True}, "integer >= 1"),
        ({"sha256": DIGEST.hex(), "size": "10"}, "integer >= 1"),
        ({"sha256": DIGEST.hex(), "size": 1, "extra": 1}, "unknown fields"),
        ({"sha256": DIGEST.hex(), "size": 1, "media_type": 5}, "string"),
        ({"sha256": DIGEST.hex(), "size": 1, "media_type": "not a type"}, "not a media type"),
    ],
)
def test_malformed_references(raw: object, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        BlobRef.from_json(raw)


def test_digest_must_have_32_bytes() -> None:
    with pytest.raises(MalformedError, match="32 bytes, not 31"):
        BlobRef(DIGEST[:31], 1)

"""The hub's blob check: what it looks for in an entry's bytes, and what it refuses."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto.blob import BlobRef
from detente.errors import RejectedError
from detente.hub.sealing import base64_patterns, check_sealed_blobs
from detente.hub.service import BatchRefusedError
from detente.statements.kinds import (
    ContactRole,
    IncidentNotify,
    IntelShare,
    Ping,
    Purpose,
    Sealed,
    Severity,
    Tlp,
)
from group.scenario import BLUELAND, REDLAND, Chain

START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
BLOB = hashlib.sha256(b"ciphertext").digest()


@given(st.binary(max_size=40), st.binary(min_size=5, max_size=24), st.binary(max_size=40))
def test_a_needle_anywhere_in_encoded_bytes_shows_one_of_its_patterns(
    before: bytes, needle: bytes, after: bytes
) -> None:
    patterns = base64_patterns(needle)
    assert len(patterns) == 3
    assert all(patterns)  # five bytes or more: every alignment has a whole group of them
    assert any(pattern in base64.b64encode(before + needle + after) for pattern in patterns)


def _statements() -> tuple[bytes, bytes, bytes]:
    chain = Chain()
    ping = chain.make(
        BLUELAND,
        Ping(id="p-1", to=(REDLAND,), role=ContactRole.TECHNICAL, reply_within_minutes=5),
        START,
    )
    sealed = chain.make(
        BLUELAND,
        IncidentNotify(
            id="inc-1",
            purpose=Purpose.NOTIFICATION,
            to=(REDLAND,),
            severity=Severity.HIGH,
            norms=(),
            sealed=Sealed(blob=BLOB, size=300, recipients=(BLUELAND, REDLAND)),
        ),
        START,
        tlp=Tlp.AMBER,
    )
    intel = chain.make(
        BLUELAND,
        IntelShare(
            blob=BLOB,
            size=300,
            media_type="application/stix+json;version=2.1",
            title="Indicators",
            to=(),
        ),
        START,
    )
    return ping, sealed, intel


def test_statements_naming_no_blob_are_not_even_parsed() -> None:
    ping, _sealed, _intel = _statements()
    asked: list[bytes] = []
    check_sealed_blobs([ping] * 3, lambda sha256: asked.append(sha256) or None)
    assert asked == []


def test_a_sealed_body_or_a_bundle_whose_blob_is_missing_is_refused() -> None:
    ping, sealed, intel = _statements()
    for entry, what in ((sealed, "the sealed content"), (intel, "the shared bundle")):
        with pytest.raises(RejectedError) as refused:
            check_sealed_blobs([entry], lambda _sha256: None)
        assert refused.value.rule == "blob-missing"
        assert what in refused.value.message
        assert BLOB.hex() in refused.value.message
    with pytest.raises(BatchRefusedError) as batch:
        check_sealed_blobs([ping, sealed], lambda _sha256: None, batch=True)
    assert batch.value.position == 1


def test_a_blob_of_another_size_is_refused_and_the_right_one_accepted() -> None:
    _ping, sealed, intel = _statements()
    with pytest.raises(RejectedError, match="has 301 bytes on the hub"):
        check_sealed_blobs([sealed], lambda sha256: BlobRef(sha256, 301))
    check_sealed_blobs([sealed, intel], lambda sha256: BlobRef(sha256, 300))

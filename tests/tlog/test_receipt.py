"""Tests of detente.tlog.receipt (c2sp.org/tlog-proof): the C2SP example, round-trips,
strict parsing, and verification against small trees built with the naive RFC reference."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive import leaf, mth, path

import detente.tlog.receipt as receipt_module
from detente.errors import (
    MalformedError,
    QuorumError,
    RootMismatchError,
    SignatureError,
    VerificationError,
)
from detente.tlog.checkpoint import Checkpoint, sign_checkpoint
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, Note
from detente.tlog.receipt import Receipt, verify_receipt

ORIGIN = "example.com/receipts"
LOG = Ed25519Signer.generate(ORIGIN)
WITNESS = CosignatureSigner.generate("witness.example/w1")
ENTRIES = [b"entry %d" % i for i in range(13)]
LEAVES = [leaf(entry) for entry in ENTRIES]


def _receipt(index: int, size: int, extra: bytes | None = None, cosign: bool = False) -> Receipt:
    checkpoint = Checkpoint(ORIGIN, size, mth(LEAVES[:size]))
    note = sign_checkpoint(checkpoint, LOG)
    if cosign:
        line = WITNESS.cosign(checkpoint.to_text().encode(), 1_700_000_000)
        note = Note(note.text, (*note.signatures, line))
    return Receipt(index, tuple(path(index, LEAVES[:size])), note.to_bytes(), extra)


def test_c2sp_example_parses(vectors_dir: Path) -> None:
    example = json.loads((vectors_dir / "c2sp" / "examples.json").read_text("utf-8"))
    data = example["tlog_proof_example_truncated_sigs"].encode()
    receipt = Receipt.from_bytes(data)
    assert receipt.index == 73894
    assert len(receipt.proof) == 5
    assert receipt.proof[0] == base64.b64decode("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=")
    assert receipt.extra == base64.b64decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
    assert receipt.checkpoint.startswith(b"example.com/fancylog\n109482\n")
    assert receipt.to_bytes() == data
    # The spec example elides the middle of each signature ("hI2DJw[...]1roloI="), so the
    # checkpoint note is not valid base64 and cannot verify under any key: verification
    # stops at parsing the note, before any signature is checked (MalformedError).
    some_key = Ed25519Signer.generate("example.com/fancylog").verifier()
    with pytest.raises(MalformedError, match="base64"):
        verify_receipt(receipt, b"any entry", some_key)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_verify_every_index(size: int) -> None:
    for index in range(size):
        receipt = Receipt.from_bytes(_receipt(index, size).to_bytes())
        signed = verify_receipt(receipt, ENTRIES[index], LOG.verifier())
        assert signed.checkpoint.size == size
        assert signed.checkpoint.root == mth(LEAVES[:size])


def test_wrong_entry_or_index() -> None:
    receipt = _receipt(3, 13)
    with pytest.raises(RootMismatchError):
        verify_receipt(receipt, ENTRIES[4], LOG.verifier())
    moved = Receipt(4, receipt.proof, receipt.checkpoint)
    with pytest.raises(VerificationError):
        verify_receipt(moved, ENTRIES[4], LOG.verifier())
    beyond = Receipt(13, receipt.proof, receipt.checkpoint)
    with pytest.raises(MalformedError):
        verify_receipt(beyond, ENTRIES[3], LOG.verifier())
    short = Receipt(3, receipt.proof[:-1], receipt.checkpoint)
    with pytest.raises(MalformedError):
        verify_receipt(short, ENTRIES[3], LOG.verifier())


def test_wrong_log_key() -> None:
    with pytest.raises(SignatureError):
        verify_receipt(_receipt(0, 2), ENTRIES[0], Ed25519Signer.generate(ORIGIN).verifier())


def test_witness_quorum() -> None:
    receipt = _receipt(5, 8, cosign=True)
    signed = verify_receipt(receipt, ENTRIES[5], LOG.verifier(), [WITNESS.verifier()], quorum=1)
    assert signed.cosignatures == (("witness.example/w1", 1_700_000_000),)
    with pytest.raises(QuorumError):
        verify_receipt(_receipt(5, 8), ENTRIES[5], LOG.verifier(), [WITNESS.verifier()], 1)


def test_round_trip_with_extra() -> None:
    receipt = _receipt(2, 5, extra=b"\x00context")
    data = receipt.to_bytes()
    assert data.startswith(b"c2sp.org/tlog-proof@v1\nextra AGNvbnRleHQ=\nindex 2\n")
    assert Receipt.from_bytes(data) == receipt
    assert verify_receipt(Receipt.from_bytes(data), ENTRIES[2], LOG.verifier())


def test_layout_without_proof() -> None:
    receipt = _receipt(0, 1)
    assert receipt.proof == ()
    assert receipt.to_bytes() == b"c2sp.org/tlog-proof@v1\nindex 0\n\n" + receipt.checkpoint
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt


_GOOD = _receipt(6, 13).to_bytes()
_HEAD, _, _CHECKPOINT = _GOOD.partition(b"\n\n")
_HASH = _HEAD.split(b"\n")[2]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(_HEAD + b"\n", id="no-blank-line"),
        pytest.param(_HEAD + b"\n\n", id="no-checkpoint"),
        pytest.param(_GOOD.replace(b"@v1", b"@v2", 1), id="wrong-version"),
        pytest.param(b"\n" + _GOOD, id="leading-newline"),
        pytest.param(_GOOD.replace(b"index 6", b"index 06", 1), id="leading-zero"),
        pytest.param(_GOOD.replace(b"index 6", b"index +6", 1), id="plus-sign"),
        pytest.param(_GOOD.replace(b"index 6", b"index  6", 1), id="two-spaces"),
        pytest.param(_GOOD.replace(b"index 6", b"index", 1), id="no-index-value"),
        pytest.param(_GOOD.replace(b"index 6", b"Index 6", 1), id="capital-index"),
        pytest.param(_GOOD.replace(b"index 6", b"index 18446744073709551616", 1), id="index-2-64"),
        pytest.param(_GOOD.replace(b"index 6\n", b"", 1), id="missing-index"),
        pytest.param(_GOOD.replace(b"\n", b"\nextra \n", 1), id="empty-extra"),
        pytest.param(_GOOD.replace(b"\n", b"\nextra AA=\n", 1), id="bad-extra"),
        pytest.param(_GOOD.replace(b"index 6\n", b"index 6\nextra AAAA\n", 1), id="late-extra"),
        pytest.param(_GOOD.replace(_HASH, _HASH[:-1], 1), id="truncated-hash"),
        pytest.param(_GOOD.replace(_HASH, b"AAAA", 1), id="short-hash"),
        pytest.param(_GOOD.replace(_HASH, _HASH + b" ", 1), id="trailing-space"),
        pytest.param(_GOOD.replace(_HASH, _HASH[:-2] + b"9=", 1), id="non-canonical-hash"),
        pytest.param(_GOOD.replace(b"\n", b"\r\n", 1), id="crlf"),
        pytest.param(_GOOD.replace(b"index 6", b"index \xd9\xa6", 1), id="non-ascii-digit"),
    ],
)
def test_strict_parse(data: bytes) -> None:
    with pytest.raises(MalformedError):
        Receipt.from_bytes(data)


def test_too_many_hashes() -> None:
    head = b"c2sp.org/tlog-proof@v1\nindex 0\n" + (_HASH + b"\n") * 65
    with pytest.raises(MalformedError, match="65 hashes"):
        Receipt.from_bytes(head + b"\n" + _CHECKPOINT)


def test_constructor_checks() -> None:
    with pytest.raises(MalformedError):
        Receipt(-1, (), _CHECKPOINT)
    with pytest.raises(MalformedError):
        Receipt(0, (b"short",), _CHECKPOINT)
    with pytest.raises(MalformedError):
        Receipt(0, (), b"")
    with pytest.raises(MalformedError):
        Receipt(0, (), _CHECKPOINT, extra=b"")


_hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=64).map(tuple)


@given(
    st.integers(0, (1 << 64) - 1),
    _hashes,
    st.binary(min_size=1, max_size=100),
    st.none() | st.binary(min_size=1, max_size=40),
)
def test_round_trip(
    index: int, proof: tuple[bytes, ...], checkpoint: bytes, extra: bytes | None
) -> None:
    receipt = Receipt(index, proof, checkpoint, extra)
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt


@given(st.binary(max_size=200))
def test_random_bytes_only_malformed(data: bytes) -> None:
    try:
        receipt = Receipt.from_bytes(data)
    except MalformedError:
        return
    assert receipt.to_bytes() == data


def test_public_api() -> None:
    assert sorted(receipt_module.__all__) == ["Receipt", "verify_receipt"]

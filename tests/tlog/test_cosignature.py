"""Tests of detente.tlog.cosignature: the derived cosignature/v1 vector (Ed25519 is
deterministic, so the line must match byte for byte) and the C2SP sofa example."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import detente.tlog.cosignature as cosignature_module
from detente.errors import MalformedError, QuorumError, SignatureError
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.cosignature import CosignatureSigner, CosignatureVerifier, cosignature_message
from detente.tlog.note import Ed25519Verifier, Note, open_note, parse_vkey

_SKEY_FIELD = "cosigner_skey_type01_from_transparency-dev/formats:witness/witness_test.go"
# transparency-dev/formats witness/witness_test.go test key Wit1 (type 0x01).
WIT1_SKEY = "PRIVATE+KEY+Wit1+55ee4561+AeadRiG7XM4XiieCHzD8lxysXMwcViy5nYsoXURWGrlE"
BODY = b"example.com/log\n3\n" + base64.b64encode(bytes(range(32))) + b"\n"


def _derived(vectors_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (vectors_dir / "derived" / "cosignature_v1_ed25519.json").read_text("utf-8")
    )
    return data


def test_message_layout() -> None:
    assert cosignature_message(b"o\n0\nAA==\n", 1679315147) == (
        b"cosignature/v1\ntime 1679315147\no\n0\nAA==\n"
    )
    with pytest.raises(MalformedError):
        cosignature_message(b"no newline", 0)
    with pytest.raises(MalformedError):
        cosignature_message(BODY, -1)
    with pytest.raises(MalformedError):
        cosignature_message(BODY, 1 << 64)


def test_derived_vector_byte_for_byte(vectors_dir: Path) -> None:
    vector = _derived(vectors_dir)
    assert vector[_SKEY_FIELD] == WIT1_SKEY
    signer = CosignatureSigner.from_skey(vector[_SKEY_FIELD])
    assert signer.vkey() == vector["cosigner_vkey_type04"]
    assert signer.verifier().vkey() == vector["cosigner_vkey_type04"]
    assert f"{signer.key_id:08x}" == vector["key_id_type04_hex"]
    body = vector["checkpoint_body"].encode()
    assert cosignature_message(body, vector["timestamp"]) == vector["signed_message"].encode()
    line = signer.cosign(body, vector["timestamp"])
    assert line.line() == vector["signature_line"]
    assert CosignatureVerifier.timestamp(line.signature) == vector["timestamp"]


def test_derived_full_note_verifies_with_quorum(vectors_dir: Path) -> None:
    vector = _derived(vectors_dir)
    log = parse_vkey(vector["log_vkey"])
    witness = CosignatureVerifier.from_vkey(vector["cosigner_vkey_type04"])
    data = vector["full_note_with_log_sig_and_cosig"].encode()
    signed = open_checkpoint(data, log, witnesses=[witness], quorum=1)
    assert signed.cosignatures == (("Wit1", vector["timestamp"]),)
    assert signed.checkpoint.size == 6476701
    assert signed.to_bytes() == data
    with pytest.raises(QuorumError) as caught:
        open_checkpoint(data, log, witnesses=[witness], quorum=2)
    assert (caught.value.needed, caught.value.found) == (2, 1)


def test_type01_key_is_not_a_cosigner(vectors_dir: Path) -> None:
    # The same key as a type-0x01 verifier has another id: the cosignature is unknown to it.
    vector = _derived(vectors_dir)
    log = parse_vkey(vector["log_vkey"])
    as_type01 = Ed25519Verifier.from_vkey(
        "Wit1+55ee4561+AVhZSmQj9+SoL+p/nN0Hh76xXmF7QcHfytUrI1XfSClk"
    )
    data = vector["full_note_with_log_sig_and_cosig"].encode()
    with pytest.raises(QuorumError):
        open_checkpoint(data, log, witnesses=[as_type01], quorum=1)


def test_sign_and_verify_round_trip() -> None:
    signer = CosignatureSigner.generate("witness.example/w1")
    line = signer.cosign(BODY, 1_700_000_000)
    assert len(line.signature) == 72
    verifier = signer.verifier()
    verifier.verify(BODY, line.signature)
    assert CosignatureSigner.from_skey(signer.skey()).vkey() == signer.vkey()
    with pytest.raises(SignatureError):
        verifier.verify(BODY.replace(b"3", b"4"), line.signature)
    # A changed timestamp changes the signed message.
    forged = (1_700_000_001).to_bytes(8, "big") + line.signature[8:]
    with pytest.raises(SignatureError):
        verifier.verify(BODY, forged)
    with pytest.raises(SignatureError):
        verifier.verify(BODY, line.signature[:-1])


def test_timestamp_rejects_wrong_length() -> None:
    with pytest.raises(MalformedError):
        CosignatureVerifier.timestamp(b"\x00" * 71)


def test_repr_hides_the_seed() -> None:
    signer = CosignatureSigner.from_skey(WIT1_SKEY)
    seed_b64 = WIT1_SKEY.split("+", 4)[4]
    seed = base64.b64decode(seed_b64)[1:]
    shown = repr(signer)
    assert shown == "CosignatureSigner(name='Wit1', key_id=9b3fb2d5)"
    assert seed.hex() not in shown
    assert seed_b64 not in shown


def test_sofa_example_witness_line(vectors_dir: Path) -> None:
    """C2SP's example: no public key is published, so only the parse is checked."""
    examples = json.loads((vectors_dir / "c2sp" / "examples.json").read_text("utf-8"))
    decoded = examples["cosignature_example_decoded"]
    note = Note.from_bytes(examples["checkpoint_example_no_public_key_published"].encode())
    witness_line = note.signatures[1]
    assert witness_line.name == "witness.example.com/w1"
    assert f"{witness_line.key_id:08x}" == decoded["key_id_hex"]
    assert 4 + len(witness_line.signature) == decoded["total_decoded_len"]
    assert len(witness_line.signature) - 8 == decoded["sig_len"]
    timestamp = CosignatureVerifier.timestamp(witness_line.signature)
    assert timestamp == decoded["timestamp"]
    assert cosignature_message(note.text.encode(), timestamp) == decoded["signed_message"].encode()


def test_cosignature_in_open_note() -> None:
    signer = CosignatureSigner.generate("w")
    line = signer.cosign(BODY, 5)
    data = BODY + b"\n" + line.line().encode()
    _, verified = open_note(data, [signer.verifier()])
    assert verified == (line,)


def test_public_api() -> None:
    assert sorted(cosignature_module.__all__) == [
        "CosignatureSigner",
        "CosignatureVerifier",
        "cosignature_message",
    ]

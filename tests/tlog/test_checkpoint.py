"""Tests of detente.tlog.checkpoint: the real sum.golang.org checkpoint
(transparency-dev/formats log/note_test.go), the marshal goldens, strict parsing, and
quorum handling."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import detente.tlog.checkpoint as checkpoint_module
from detente.errors import MalformedError, QuorumError, SignatureError, VerificationError
from detente.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, Note, parse_vkey, sign_note

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def _formats(vectors_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (vectors_dir / "transparency-dev-formats" / "vectors.json").read_text("utf-8")
    )
    return data


def test_sum_golang_org_checkpoint(vectors_dir: Path) -> None:
    case = _formats(vectors_dir)["sum_golang_org_checkpoint"]
    log = parse_vkey(case["vkey"])  # its base64 contains '+'
    assert log.name == "sum.golang.org"
    signed = open_checkpoint(case["note"].encode(), log, origin="go.sum database tree")
    assert signed.checkpoint.origin == "go.sum database tree"
    assert signed.checkpoint.size == 6476701
    assert signed.checkpoint.root == base64.b64decode(
        "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="
    )
    assert signed.checkpoint.extensions == ()
    assert signed.cosignatures == ()
    assert signed.to_bytes() == case["note"].encode()
    assert signed.checkpoint.to_text() == signed.note.text


def test_sum_golang_org_extra_signers(vectors_dir: Path) -> None:
    case = _formats(vectors_dir)["sum_golang_org_checkpoint"]
    log = parse_vkey(case["vkey"])
    extra = case["extra_signers_over_same_text"]
    assert len(extra) == 3
    witnesses = [parse_vkey(vkey) for vkey in extra]
    lines = "".join(line + "\n" for line in extra.values())
    data = case["note"].encode() + lines.encode()
    signed = open_checkpoint(data, log, witnesses=witnesses, quorum=3)
    # They are type 0x01 keys (not cosignature/v1): verified, with no timestamp.
    assert signed.cosignatures == (("monkeys", 0), ("bananas", 0), ("witness", 0))
    # Each line verifies on its own, with its own key.
    for vkey, line in extra.items():
        alone = case["note"].encode() + (line + "\n").encode()
        assert open_checkpoint(alone, log, witnesses=[parse_vkey(vkey)], quorum=1)
    with pytest.raises(QuorumError):
        open_checkpoint(data, log, witnesses=witnesses, quorum=4)


def test_wrong_origin(vectors_dir: Path) -> None:
    case = _formats(vectors_dir)["sum_golang_org_checkpoint"]
    with pytest.raises(VerificationError, match="origin"):
        open_checkpoint(case["note"].encode(), parse_vkey(case["vkey"]), origin="other")


def test_marshal_goldens(vectors_dir: Path) -> None:
    """transparency-dev/formats marshals checkpoints with arbitrary-length "hashes"
    ("bananas", 7 bytes; a 37-byte sentence). Our checkpoints are strict: the root is
    exactly 32 bytes, so those texts are rejected; the layout they fix (origin, decimal
    size, base64 root, one per line, final newline) is checked with a 32-byte root."""
    for golden in _formats(vectors_dir)["checkpoint_marshal_golden"]:
        fake_hash = golden["hash_bytes_utf8"].encode()
        expected = f"{golden['origin']}\n{golden['size']}\n{base64.b64encode(fake_hash).decode()}\n"
        assert golden["text"] == expected
        with pytest.raises(MalformedError, match=f"{len(fake_hash)} bytes, expected 32"):
            Checkpoint.from_text(golden["text"])
        real = Checkpoint(golden["origin"], golden["size"], ROOT)
        text = f"{golden['origin']}\n{golden['size']}\n{ROOT_B64}\n"
        assert real.to_text() == text
        assert Checkpoint.from_text(text) == real
        assert Checkpoint.from_text(text.encode()) == real


def test_origin_may_hold_spaces_and_plus() -> None:
    # c2sp.org/tlog-checkpoint: origins SHOULD avoid spaces and '+', and clients MUST NOT
    # assume they do (sum.golang.org's origin is "go.sum database tree").
    for origin in ("go.sum database tree", "a+b", "example.com/log\u00a0x"):
        text = f"{origin}\n5\n{ROOT_B64}\n"
        assert Checkpoint.from_text(text).to_text() == text


def test_extensions_kept() -> None:
    text = f"example.com/log\n5\n{ROOT_B64}\nextension one\n— another\n"
    checkpoint = Checkpoint.from_text(text)
    assert checkpoint.extensions == ("extension one", "— another")
    assert checkpoint.to_text() == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"\n5\n{ROOT_B64}\n", "empty"),
        (f"tab\tlog\n5\n{ROOT_B64}\n", "control"),
        (f"log\n05\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n00\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n+5\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n-1\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n 5\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n5_0\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n\u0665\n{ROOT_B64}\n", "leading zeros"),  # Arabic-Indic digit five
        (f"log\n\n{ROOT_B64}\n", "leading zeros"),
        (f"log\n18446744073709551616\n{ROOT_B64}\n", "64 bits"),
        (f"log\n5\n{ROOT_B64}", "newline"),
        ("log\n5\n", "at least 3"),
        ("", "newline"),
        ("log\n5\nAAAA\n", "3 bytes"),
        (f"log\n5\n{ROOT_B64[:-1]}\n", "base64"),
        (f"log\n5\n{ROOT_B64[:-2]}9=\n", "non-canonical"),
        (f"log\n5\n {ROOT_B64}\n", "base64"),
        (f"log\n5\n{ROOT_B64}\n\n", "empty"),
        (f"log\n5\n{ROOT_B64}\next\x01\n", "control"),
    ],
)
def test_strict_parse(text: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        Checkpoint.from_text(text)


def test_size_limits() -> None:
    top = Checkpoint.from_text(f"log\n18446744073709551615\n{ROOT_B64}\n")
    assert top.size == (1 << 64) - 1
    assert Checkpoint.from_text(f"log\n0\n{ROOT_B64}\n").size == 0
    with pytest.raises(MalformedError):
        Checkpoint("log", -1, ROOT)
    with pytest.raises(MalformedError):
        Checkpoint("log", True, ROOT)
    with pytest.raises(MalformedError):
        Checkpoint.from_text(b"log\n5\n\xff\n")


def test_sign_and_open() -> None:
    log = Ed25519Signer.generate("example.com/log")
    witnesses = [CosignatureSigner.generate(f"w{i}") for i in range(3)]
    checkpoint = Checkpoint("example.com/log", 7, ROOT)
    note = sign_checkpoint(checkpoint, log)
    body = checkpoint.to_text().encode()
    cosigned = Note(
        note.text, (*note.signatures, *(w.cosign(body, 100 + i) for i, w in enumerate(witnesses)))
    )
    verifiers = [w.verifier() for w in witnesses]
    signed = open_checkpoint(cosigned.to_bytes(), log.verifier(), verifiers, quorum=3)
    assert signed.checkpoint == checkpoint
    assert signed.cosignatures == (("w0", 100), ("w1", 101), ("w2", 102))
    # Listing the log among the witnesses does not count it towards the quorum.
    with pytest.raises(QuorumError):
        open_checkpoint(note.to_bytes(), log.verifier(), [log.verifier()], quorum=1)
    # Signed by witnesses only, not by the log.
    only_witnesses = Note(note.text, cosigned.signatures[1:])
    with pytest.raises(SignatureError, match="log key"):
        open_checkpoint(only_witnesses.to_bytes(), log.verifier(), verifiers, quorum=1)
    # A known witness whose cosignature fails rejects the note (Go's rule).
    bad = witnesses[0].cosign(b"example.com/log\n8\n" + base64.b64encode(ROOT) + b"\n", 5)
    tampered = Note(note.text, (*note.signatures, bad))
    with pytest.raises(SignatureError, match="w0"):
        open_checkpoint(tampered.to_bytes(), log.verifier(), verifiers)
    with pytest.raises(MalformedError):
        open_checkpoint(note.to_bytes(), log.verifier(), verifiers, quorum=-1)


def test_signed_note_that_is_not_a_checkpoint() -> None:
    log = Ed25519Signer.generate("example.com/log")
    note = sign_note("just text\n", [log])
    with pytest.raises(MalformedError):
        open_checkpoint(note.to_bytes(), log.verifier())


_origins = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20
)
_extensions = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20),
    max_size=3,
)


@given(_origins, st.integers(0, (1 << 64) - 1), st.binary(min_size=32, max_size=32), _extensions)
def test_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.from_text(checkpoint.to_text()) == checkpoint


@given(st.binary(max_size=200))
def test_random_bytes_only_malformed(data: bytes) -> None:
    try:
        checkpoint = Checkpoint.from_text(data)
    except MalformedError:
        return
    assert checkpoint.to_text().encode() == data


def test_public_api() -> None:
    assert sorted(checkpoint_module.__all__) == [
        "Checkpoint",
        "SignedCheckpoint",
        "open_checkpoint",
        "sign_checkpoint",
    ]

"""Tests of detente.tlog.note against the Go sumdb/note vectors, the C2SP example, and
Hypothesis properties (round-trip, fuzzed input, single-byte tampering)."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detente.tlog.note as note_module
from detente.errors import MalformedError, SignatureError
from detente.tlog.cosignature import CosignatureVerifier
from detente.tlog.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    key_id,
    open_note,
    parse_vkey,
    sign_note,
)

# The Go sumdb/note golden values (golang/mod sumdb/note/note_test.go), also in
# vectors/golang-mod-sumdb/note_vectors.json; repeated here so they always run.
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01"
    "oOTGwnWLox33WWd1RvMc+QQ=\n"
)


def _go_vectors(vectors_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (vectors_dir / "golang-mod-sumdb" / "note_vectors.json").read_text("utf-8")
    )
    return data


@pytest.fixture(scope="module")
def peter() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(PETER_VKEY)


@pytest.fixture(scope="module")
def enoch() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(ENOCH_VKEY)


# -- Go golden vectors ----------------------------------------------------------------------


def test_inline_constants_match_the_vector_file(vectors_dir: Path) -> None:
    vectors = _go_vectors(vectors_dir)
    assert vectors["vkeys"] == {"PeterNeumann": PETER_VKEY, "EnochRoot": ENOCH_VKEY}
    assert vectors["skeys"]["PeterNeumann"] == PETER_SKEY
    assert vectors["note_text"] == TEXT
    assert vectors["signature_lines"] == {"PeterNeumann": PETER_SIG, "EnochRoot": ENOCH_SIG}


def test_golden_note_reproduced_byte_for_byte(vectors_dir: Path) -> None:
    vectors = _go_vectors(vectors_dir)
    signer = Ed25519Signer.from_skey(vectors["skeys"]["PeterNeumann"])
    signed = sign_note(vectors["note_text"], [signer])
    assert signed.to_bytes() == vectors["signed_note_peter_only"].encode("utf-8")
    assert signer.vkey() == vectors["vkeys"]["PeterNeumann"]
    assert signer.verifier().vkey() == vectors["vkeys"]["PeterNeumann"]
    assert signer.skey() == vectors["skeys"]["PeterNeumann"]


def test_vkeys_round_trip(vectors_dir: Path) -> None:
    for vkey in _go_vectors(vectors_dir)["vkeys"].values():
        verifier = Ed25519Verifier.from_vkey(vkey)
        assert verifier.vkey() == vkey
        assert parse_vkey(vkey) == verifier


def test_key_ids() -> None:
    verifier = Ed25519Verifier.from_vkey(PETER_VKEY)
    assert verifier.key_id == 0xC74F20A3
    assert key_id("PeterNeumann", ALG_ED25519, verifier.public_key) == 0xC74F20A3
    assert key_id("PeterNeumann", ALG_COSIGNATURE_V1, verifier.public_key) != 0xC74F20A3


def test_enoch_signature_line_verifies(enoch: Ed25519Verifier) -> None:
    note, verified = open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch])
    assert note.text == TEXT
    assert [s.line() for s in verified] == [ENOCH_SIG]


def test_bad_vkeys_rejected(vectors_dir: Path) -> None:
    bad = _go_vectors(vectors_dir)["bad_vkeys_must_reject"]
    assert len(bad) == 2
    for vkey in bad:
        with pytest.raises(MalformedError):
            parse_vkey(vkey)
        with pytest.raises(MalformedError):
            Ed25519Verifier.from_vkey(vkey)


@pytest.mark.parametrize(
    "vkey",
    [
        # extra bytes after the 32-byte key, with a matching id (Go: errVerifierAlg)
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        # unknown type byte 0x65, with a matching id
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # uppercase id
        "PeterNeumann+c74f20a3",  # no key
        "PeterNeumann+c74f20a3+",  # empty key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(MalformedError):
        parse_vkey(vkey)


def test_vkey_type_dispatch() -> None:
    cosig = parse_vkey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert isinstance(cosig, CosignatureVerifier)
    with pytest.raises(MalformedError):
        Ed25519Verifier.from_vkey(cosig.vkey())
    with pytest.raises(MalformedError):
        CosignatureVerifier.from_vkey(PETER_VKEY)


@pytest.mark.parametrize(
    "skey",
    [
        PETER_SKEY.replace("PRIVATE+KEY", "PRIVATE+KEX"),
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),  # id does not match the derived key
        PETER_SKEY.replace("+AYEK", "+AoEK"),  # wrong type byte
        PETER_SKEY[:-4],  # short seed
        PETER_SKEY + "AAAA",  # long seed
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
    ],
)
def test_malformed_skeys(skey: str) -> None:
    with pytest.raises(MalformedError) as caught:
        Ed25519Signer.from_skey(skey)
    assert "AYEKFALVFGyNhPJEMzD1QIDr" not in str(caught.value)


def test_signer_repr_hides_the_seed() -> None:
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    seed_b64 = PETER_SKEY.split("+", 4)[4]
    seed = base64.b64decode(seed_b64)[1:]
    for shown in (repr(signer), str(signer)):
        assert "PeterNeumann" in shown
        assert "c74f20a3" in shown
        assert seed_b64 not in shown
        assert seed.hex() not in shown
        assert repr(seed) not in shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_generated_signer_round_trips_through_skey() -> None:
    signer = Ed25519Signer.generate("example.com/log")
    again = Ed25519Signer.from_skey(signer.skey())
    assert again.vkey() == signer.vkey()
    assert again.key_id == signer.key_id == signer.verifier().key_id
    signed = sign_note("hello\n", [signer])
    note, verified = open_note(signed.to_bytes(), [again.verifier()])
    assert note == signed
    assert verified == signed.signatures


# -- Go's Open rules ------------------------------------------------------------------------


def test_one_known_one_unknown(peter: Ed25519Verifier) -> None:
    note, verified = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter])
    assert note.text == TEXT
    assert [s.name for s in verified] == ["PeterNeumann"]
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]


def test_both_known(peter: Ed25519Verifier, enoch: Ed25519Verifier) -> None:
    _, verified = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter, enoch])
    assert [s.name for s in verified] == ["PeterNeumann", "EnochRoot"]


def test_no_known_signer_is_signature_error() -> None:
    with pytest.raises(SignatureError, match="no verifiable signatures"):
        open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [])


def test_unknown_signer_sharing_name_or_id_is_ignored(peter: Ed25519Verifier) -> None:
    other = Ed25519Signer.generate("PeterNeumann")  # same name, another id
    signed = sign_note(TEXT, [other], Note.from_bytes((TEXT + "\n" + PETER_SIG).encode()))
    _, verified = open_note(signed.to_bytes(), [peter])
    assert [s.key_id for s in verified] == [0xC74F20A3]


def test_known_signer_failing_is_signature_error(peter: Ed25519Verifier) -> None:
    # Go's test: four extra base64 characters inside Peter's signature.
    tampered = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureError, match="PeterNeumann"):
        open_note((TEXT + "\n" + tampered).encode(), [peter])
    # Even when another known signature verifies.
    with pytest.raises(SignatureError):
        open_note((TEXT + "\n" + ENOCH_SIG + tampered).encode(), [peter, _enoch()])


def _enoch() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(ENOCH_VKEY)


def test_wrong_text_is_signature_error(peter: Ed25519Verifier) -> None:
    with pytest.raises(SignatureError):
        open_note(("Other text.\n\n" + PETER_SIG).encode(), [peter])


def test_duplicates_dropped_like_go(peter: Ed25519Verifier) -> None:
    # Go's test: peter, peter, enoch, enoch, enoch with ABCD inserted; only peter known.
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    data = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert len(Note.from_bytes(data.encode()).signatures) == 5  # parsing keeps every line
    note, verified = open_note(data.encode(), [peter])
    assert [s.line() for s in verified] == [PETER_SIG]
    assert [s.line() for s in note.signatures] == [PETER_SIG, ENOCH_SIG, enoch_abcd]


def test_known_key_repeated_later_signature_is_skipped(peter: Ed25519Verifier) -> None:
    # Go checks only a known key's first signature; later ones are dropped unchecked.
    tampered = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    note, verified = open_note((TEXT + "\n" + PETER_SIG + tampered).encode(), [peter])
    assert [s.line() for s in verified] == [PETER_SIG]
    assert len(note.signatures) == 1


def test_ambiguous_verifiers(peter: Ed25519Verifier) -> None:
    enoch = _enoch()
    # Same verifier listed twice: not ambiguous.
    open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch, peter, enoch])
    # Another key under the same name claiming the same id (a 32-bit id collision).
    fake = _with_key_id(Ed25519Verifier("EnochRoot", peter.public_key), enoch.key_id)
    with pytest.raises(MalformedError, match="ambiguous key EnochRoot"):
        open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch, fake])
    # Unused ambiguity is harmless (Go: "unused duplicated verifier").
    open_note((TEXT + "\n" + PETER_SIG).encode(), [enoch, fake, peter])


class _FixedIdVerifier:
    """A verifier claiming another key's id (an id collision)."""

    def __init__(self, inner: Ed25519Verifier, kid: int) -> None:
        self.name = inner.name
        self.key_id = kid
        self._inner = inner

    def verify(self, message: bytes, signature: bytes) -> None:
        self._inner.verify(message, signature)


def _with_key_id(inner: Ed25519Verifier, kid: int) -> _FixedIdVerifier:
    return _FixedIdVerifier(inner, kid)


def test_too_many_signatures(peter: Ed25519Verifier) -> None:
    assert len(open_note((TEXT + "\n" + PETER_SIG * 100).encode(), [peter])[1]) == 1
    for verifiers in ([peter], []):
        with pytest.raises(MalformedError, match="101 signatures"):
            open_note((TEXT + "\n" + PETER_SIG * 101).encode(), verifiers)
    with pytest.raises(MalformedError):
        Note(TEXT, (Note.from_bytes((TEXT + "\n" + PETER_SIG).encode()).signatures[0],) * 101)


# Go's badMsgs (sumdb/note/note_test.go TestOpen) and the classes the brief names, one by one.
def test_malformed_text_only(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError):
        open_note(TEXT.encode(), [peter])


def test_malformed_text_and_blank_line_without_signatures(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError):
        open_note((TEXT + "\n").encode(), [peter])


def test_malformed_missing_final_newline(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError):
        open_note((TEXT + "\n" + PETER_SIG[:-1]).encode(), [peter])


def test_malformed_leading_control_byte(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError, match="control character"):
        open_note(("\x01" + TEXT + "\n" + PETER_SIG).encode(), [peter])


def test_malformed_leading_invalid_utf8(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), [peter])


def test_malformed_name_with_space(peter: Ed25519Verifier) -> None:
    # Go's case lacks the final newline too; this one isolates the name rule.
    line = PETER_SIG.replace("PeterNeumann", "Bad Name")
    with pytest.raises(MalformedError):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_name_with_unicode_space(peter: Ed25519Verifier) -> None:
    line = PETER_SIG.replace("PeterNeumann", "Peter\u00a0Neumann")
    with pytest.raises(MalformedError, match="forbidden character"):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_name_with_plus(peter: Ed25519Verifier) -> None:
    line = PETER_SIG.replace("PeterNeumann", "Peter+Neumann")
    with pytest.raises(MalformedError, match="forbidden character"):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_empty_name(peter: Ed25519Verifier) -> None:
    line = PETER_SIG.replace("PeterNeumann", "")
    with pytest.raises(MalformedError, match="empty"):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_trailing_non_signature_line(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError, match="em dash"):
        open_note((TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(), [peter])


def test_malformed_bad_base64(peter: Ed25519Verifier) -> None:
    line = PETER_SIG.replace("x08go/", "x08go!")
    with pytest.raises(MalformedError, match="base64"):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_non_canonical_base64(peter: Ed25519Verifier) -> None:
    # The last character before '=' carries 2 unused bits: 'M' (001100) -> 'N' (001101)
    # decodes to the same bytes; Go accepts it, we do not (one signature, one encoding).
    line = PETER_SIG.replace("nAM=\n", "nAN=\n")
    assert base64.b64decode(line.split()[-1]) == base64.b64decode(PETER_SIG.split()[-1])
    with pytest.raises(MalformedError, match="non-canonical"):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_signature_too_short(peter: Ed25519Verifier) -> None:
    # Fewer than 5 decoded bytes: the 4-byte key id plus at least one signature byte.
    for payload in (b"", b"\xc7\x4f\x20", b"\xc7\x4f\x20\xa3"):
        line = f"— PeterNeumann {base64.b64encode(payload).decode()}\n"
        with pytest.raises(MalformedError):
            open_note((TEXT + "\n" + line).encode(), [peter])
    # Five bytes parse, and are a (failing) signature by the known key.
    line = "— PeterNeumann " + base64.b64encode(b"\xc7\x4f\x20\xa3\x00").decode() + "\n"
    with pytest.raises(SignatureError):
        open_note((TEXT + "\n" + line).encode(), [peter])


def test_malformed_no_space_after_name(peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError):
        open_note((TEXT + "\n— PeterNeumann\n").encode(), [peter])


def test_text_split_at_last_blank_line(peter: Ed25519Verifier) -> None:
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    text = "first\n\nsecond\n\n"
    signed = sign_note(text, [signer])
    note, _ = open_note(signed.to_bytes(), [peter])
    assert note.text == text


def test_sign_note_rejects_bad_text() -> None:
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    for text in ("", "no newline", "tab\there\n"):
        with pytest.raises(MalformedError):
            sign_note(text, [signer])


def test_sign_note_keeps_and_replaces_existing() -> None:
    peter_signer = Ed25519Signer.from_skey(PETER_SKEY)
    existing = Note.from_bytes((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode())
    other = Ed25519Signer.generate("other")
    signed = sign_note(TEXT, [peter_signer, other], existing)
    assert [s.name for s in signed.signatures] == ["EnochRoot", "PeterNeumann", "other"]
    with pytest.raises(MalformedError, match="different text"):
        sign_note("other\n", [other], existing)


def test_note_signature_validation() -> None:
    with pytest.raises(MalformedError):
        NoteSignature("name", 1 << 32, b"x")
    with pytest.raises(MalformedError):
        NoteSignature("name", -1, b"x")
    with pytest.raises(MalformedError):
        NoteSignature("name", 1, b"")
    with pytest.raises(MalformedError):
        NoteSignature("a+b", 1, b"x")
    with pytest.raises(MalformedError):
        NoteSignature("a\ud800", 1, b"x")
    with pytest.raises(MalformedError):
        Note("lone \udc00 surrogate\n", (NoteSignature("a", 1, b"x"),))


def test_public_api() -> None:
    assert sorted(note_module.__all__) == [
        "ALG_COSIGNATURE_V1",
        "ALG_ED25519",
        "Ed25519Signer",
        "Ed25519Verifier",
        "Note",
        "NoteSignature",
        "Signer",
        "Verifier",
        "key_id",
        "open_note",
        "parse_vkey",
        "sign_note",
    ]


# -- the C2SP signed-note example ------------------------------------------------------------


def test_c2sp_example_verifies(vectors_dir: Path) -> None:
    example = json.loads((vectors_dir / "c2sp" / "examples.json").read_text("utf-8"))
    case = example["signed_note_example_verifiable"]
    verifier = parse_vkey(case["vkey"])
    note, verified = open_note(case["note"].encode(), [verifier])
    assert note.text == "This is an example message.\n"
    assert [s.name for s in verified] == ["example.com/foo"]
    assert note.to_bytes() == case["note"].encode()


# -- Hypothesis ---------------------------------------------------------------------------

# Key names: no Unicode white space (Zs, Zl, Zp and the Cc spaces), no '+', no controls.
_names = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="+"
    ),
    min_size=1,
    max_size=16,
)
_lines = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
_texts = st.lists(_lines, min_size=1, max_size=5).map(lambda lines: "\n".join(lines) + "\n")
_signatures = st.builds(
    NoteSignature,
    name=_names,
    key_id=st.integers(0, (1 << 32) - 1),
    signature=st.binary(min_size=1, max_size=80),
)
_notes = st.builds(Note, text=_texts, signatures=st.lists(_signatures, min_size=1, max_size=8))


@given(_notes)
def test_note_round_trip(note: Note) -> None:
    data = note.to_bytes()
    assert Note.from_bytes(data) == note
    assert Note.from_bytes(data).to_bytes() == data


@given(st.binary(max_size=300))
def test_random_bytes_only_malformed(data: bytes) -> None:
    try:
        note = Note.from_bytes(data)
    except MalformedError:
        return
    assert note.to_bytes() == data  # parsing is canonical: what parses re-encodes exactly


@given(_notes, st.data())
def test_mutated_notes_only_malformed(note: Note, data: st.DataObject) -> None:
    raw = bytearray(note.to_bytes())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    try:
        parsed = Note.from_bytes(bytes(raw))
    except MalformedError:
        return
    assert parsed.to_bytes() == bytes(raw)


_PETER_NOTE = (TEXT + "\n" + PETER_SIG).encode()


def _assert_not_the_original(data: bytes, verifier: Ed25519Verifier) -> None:
    try:
        note, _ = open_note(data, [verifier])
    except (MalformedError, SignatureError):
        return
    assert note.text != TEXT, f"tampered note verified as the original: {data!r}"


@settings(max_examples=300)
@given(st.integers(0, len(_PETER_NOTE) - 1), st.integers(1, 255))
def test_single_byte_mutation_never_verifies_as_original(position: int, delta: int) -> None:
    raw = bytearray(_PETER_NOTE)
    raw[position] = (raw[position] + delta) % 256
    _assert_not_the_original(bytes(raw), Ed25519Verifier.from_vkey(PETER_VKEY))


def test_every_single_bit_flip_never_verifies_as_original(peter: Ed25519Verifier) -> None:
    for position in range(len(_PETER_NOTE)):
        for bit in range(8):
            raw = bytearray(_PETER_NOTE)
            raw[position] ^= 1 << bit
            _assert_not_the_original(bytes(raw), peter)

"""age encryption: streaming round trips, key files, and errors kept apart."""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.crypto import age
from detente.crypto.age import (
    Identity,
    Recipient,
    add_identity,
    decrypt_stream,
    encrypt_stream,
    load_identities,
    load_identity,
    save_identity,
)
from detente.errors import ConflictError, MalformedError, StorageError, VerificationError

CREATED = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
IDENTITY = Identity.generate()


def _encrypt(plaintext: bytes, *recipients: Recipient) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, recipients)
    return out.getvalue()


def _decrypt(ciphertext: bytes, *identities: Identity) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), out, identities)
    return out.getvalue()


def test_public_api() -> None:
    assert set(age.__all__) == {
        "AGE_HEADER",
        "IDENTITY_FILE",
        "add_identity",
        "load_identities",
        "Identity",
        "Recipient",
        "Sink",
        "Source",
        "decrypt_stream",
        "encrypt_stream",
        "identity_file_text",
        "load_identity",
        "save_identity",
    }


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200_000))
def test_round_trip(plaintext: bytes) -> None:
    ciphertext = _encrypt(plaintext, IDENTITY.recipient)
    # The standard age v1 header (age-encryption.org/v1), an X25519 stanza.
    assert ciphertext.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert _decrypt(ciphertext, IDENTITY) == plaintext


def test_each_of_several_recipients_can_decrypt() -> None:
    other = Identity.generate()
    ciphertext = _encrypt(b"evidence", IDENTITY.recipient, other.recipient)
    assert _decrypt(ciphertext, IDENTITY) == b"evidence"
    assert _decrypt(ciphertext, other) == b"evidence"


def test_a_non_recipient_cannot_decrypt() -> None:
    ciphertext = _encrypt(b"evidence", IDENTITY.recipient)
    with pytest.raises(VerificationError, match="not addressed to this identity"):
        _decrypt(ciphertext, Identity.generate())


@pytest.mark.parametrize("where", [-1, -100, 200])
def test_altered_ciphertext_does_not_verify(where: int) -> None:
    ciphertext = bytearray(_encrypt(b"x" * 100_000, IDENTITY.recipient))
    ciphertext[where] ^= 1
    with pytest.raises((VerificationError, MalformedError)):
        _decrypt(bytes(ciphertext), IDENTITY)


def test_truncated_ciphertext_does_not_verify() -> None:
    ciphertext = _encrypt(b"x" * 100_000, IDENTITY.recipient)
    with pytest.raises(VerificationError, match="altered or truncated"):
        _decrypt(ciphertext[:-20], IDENTITY)


def test_not_age_is_malformed() -> None:
    with pytest.raises(MalformedError, match="not age v1"):
        _decrypt(b"garbage" * 20, IDENTITY)


def test_no_recipient_no_identity_refused() -> None:
    with pytest.raises(MalformedError, match="at least 1 recipient"):
        _encrypt(b"x")
    with pytest.raises(MalformedError, match="at least 1 identity"):
        _decrypt(_encrypt(b"x", IDENTITY.recipient))


def _last_char_changed(text: str) -> str:
    """``text`` with its last character replaced by another (a Bech32 checksum failure)."""
    return text[:-1] + ("q" if text[-1] != "q" else "p")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        "age1" + "q" * 58,
        "ssh-ed25519 AAAA",
        _last_char_changed(str(IDENTITY.recipient)),
    ],
)
def test_bad_recipients_are_malformed(text: str) -> None:
    with pytest.raises(MalformedError):
        Recipient(text)


def test_bad_identities_are_malformed_and_not_echoed() -> None:
    secret = IDENTITY.secret_text()
    with pytest.raises(MalformedError) as caught:
        Identity(secret[:-1] + ("A" if secret[-1] != "A" else "C"))
    assert secret[20:] not in str(caught.value)
    with pytest.raises(MalformedError, match="exactly 1 key line, not 2"):
        Identity.from_text(f"{secret}\n{Identity.generate().secret_text()}\n")
    with pytest.raises(MalformedError, match="not 0"):
        Identity.from_text("# only a comment\n")


def test_repr_hides_the_secret() -> None:
    assert IDENTITY.secret_text() not in repr(IDENTITY)
    assert IDENTITY.secret_text().startswith("AGE-SECRET-KEY-1")
    assert str(IDENTITY.recipient).startswith("age1")


def test_identity_file_is_0600_age_keygen_format_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "age.key"
    save_identity(path, IDENTITY, CREATED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("# created: 2025-01-02T03:04:05+00:00\n")
    assert f"# public key: {IDENTITY.recipient}\n" in text
    assert load_identity(path) == IDENTITY
    with pytest.raises(ConflictError):
        save_identity(path, Identity.generate(), CREATED)
    os.chmod(path, 0o644)
    with pytest.raises(StorageError, match="0600"):
        load_identity(path)


def test_streams_in_pieces() -> None:
    """pyrage reads the source in small pieces: nothing asks for the whole stream."""
    asked: list[int] = []

    class Source(io.BytesIO):
        def read(self, n: int | None = -1, /) -> bytes:
            asked.append(-1 if n is None else n)
            return super().read(n)

    encrypt_stream(Source(b"z" * 1_000_000), io.BytesIO(), [IDENTITY.recipient])
    assert asked
    assert all(0 < n <= 1024 * 1024 for n in asked)


def test_an_identity_file_keeps_every_identity_newest_last(tmp_path: Path) -> None:
    path = tmp_path / "age.key"
    first, second = Identity.generate(), Identity.generate()
    save_identity(path, first, CREATED)
    sealed_to_first = _encrypt(b"old content", first.recipient)
    add_identity(path, second, CREATED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = load_identities(path)
    assert [i.secret_text() for i in found] == [first.secret_text(), second.secret_text()]
    # Old content opens with the file's identities; new content is sealed to the newest.
    assert _decrypt(sealed_to_first, *found) == b"old content"
    assert _decrypt(_encrypt(b"new", found[-1].recipient), *found) == b"new"
    with pytest.raises(VerificationError):
        _decrypt(sealed_to_first, found[-1])
    # One key per file is what load_identity reads; a file with several is not ambiguous
    # for load_identities, and never left half written.
    with pytest.raises(MalformedError):
        load_identity(path)
    assert not list(tmp_path.glob(".age.key.*"))
    assert sealed_to_first[: len(age.AGE_HEADER)] == age.AGE_HEADER

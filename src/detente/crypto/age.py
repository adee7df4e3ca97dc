"""age v1 encryption to X25519 recipients, streamed (through pyrage, the rage bindings).

Ciphertext is the standard age format (https://age-encryption.org/v1), so the ``age`` and
``rage`` command-line tools decrypt it with an identity exported from a node. Streams are
read and written in small pieces: a file of any size is encrypted in constant memory.

Errors are Detente's: a recipient or identity that does not parse, or ciphertext whose
header is not age, is ``MalformedError``; well-formed ciphertext that this identity cannot
open (not a recipient) or whose payload fails authentication (altered, truncated) is
``VerificationError``: "does not verify", never garbage plaintext.

An identity file holds one ``AGE-SECRET-KEY-1...`` line, created 0600 and read only when
nobody else may read it (``detente.crypto.keyfile``); ``#`` comment lines (as written by
``age-keygen`` and by :func:`identity_file_text`) are allowed. A node's file holds every
identity it ever had, one per line, newest last (age's own identity file format allows
several): :func:`load_identities` reads them all, :func:`add_identity` appends a new one after
a key rotation, so content sealed to an old key stays readable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyrage

from detente.crypto.keyfile import read_secret, write_secret
from detente.errors import MalformedError, VerificationError

__all__ = [
    "AGE_HEADER",
    "IDENTITY_FILE",
    "Identity",
    "Recipient",
    "Sink",
    "Source",
    "add_identity",
    "decrypt_stream",
    "encrypt_stream",
    "identity_file_text",
    "load_identities",
    "load_identity",
    "save_identity",
]

#: The node's age identity, in its data directory (mode 0600).
IDENTITY_FILE = "age.key"
#: The first line of every age v1 file: the hub stores nothing that does not start with it.
AGE_HEADER = b"age-encryption.org/v1\n"
_RECIPIENT_PREFIX = "age1"
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
#: pyrage raises OSError with this text when a payload chunk fails authentication.
_PAYLOAD_FAILURE = "decryption error"


class Source(Protocol):
    """Anything with a file's ``read(n)`` (a binary file, or a wrapper that hashes)."""

    def read(self, n: int = -1, /) -> bytes: ...


class Sink(Protocol):
    """Anything with a file's ``write(data)``."""

    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """An age X25519 recipient (``age1...``), checked when made."""

    text: str

    def __post_init__(self) -> None:
        _pyrage_recipient(self.text)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Identity:
    """An age X25519 identity (the private key). Its repr never shows the secret."""

    _secret: str = field(repr=False)

    def __post_init__(self) -> None:
        _pyrage_identity(self._secret)

    @classmethod
    def generate(cls) -> Identity:
        return cls(str(pyrage.x25519.Identity.generate()))

    @classmethod
    def from_text(cls, text: str) -> Identity:
        """Parse an identity file's text: one secret key line, ``#`` comments allowed."""
        lines = [ln.strip() for ln in text.splitlines()]
        keys = [ln for ln in lines if ln and not ln.startswith("#")]
        # Exactly one key: a file with several would make "which key is the node's" ambiguous.
        if len(keys) != 1:
            raise MalformedError(f"an age identity file holds exactly 1 key line, not {len(keys)}")
        return cls(keys[0])

    @property
    def recipient(self) -> Recipient:
        """The public half: what others encrypt to (a party's ``encryption_key``)."""
        return Recipient(str(_pyrage_identity(self._secret).to_public()))

    def secret_text(self) -> str:
        """The ``AGE-SECRET-KEY-1...`` string: the private key itself; keep it 0600."""
        return self._secret


def identity_file_text(identity: Identity, created: dt.datetime) -> str:
    """The identity in ``age-keygen``'s file format (what ``age -d -i FILE`` reads)."""
    return (
        f"# created: {created.isoformat(timespec='seconds')}\n"
        f"# public key: {identity.recipient}\n"
        f"{identity.secret_text()}\n"
    )


def load_identity(path: Path) -> Identity:
    """The identity in ``path`` (refused when group or others may read the file)."""
    return Identity.from_text(read_secret(path))


def load_identities(path: Path) -> list[Identity]:
    """Every identity in ``path``, oldest first (refused when others may read the file)."""
    lines = [ln.strip() for ln in read_secret(path).splitlines()]
    found = [Identity(ln) for ln in lines if ln and not ln.startswith("#")]
    if not found:
        raise MalformedError(f"{path} holds no age identity")
    return found


def add_identity(path: Path, identity: Identity, created: dt.datetime) -> None:
    """Append ``identity`` to the identity file ``path`` (it becomes the newest), atomically.

    The file is rewritten into a 0600 temporary file next to it and renamed into place, so a
    crash leaves either the old file or the new one, never a torn key line.
    """
    old = read_secret(path)
    text = old.rstrip("\n") + "\n" + identity_file_text(identity, created)
    partial = path.with_name(f".{path.name}.adding")
    partial.unlink(missing_ok=True)
    write_secret(partial, text)
    os.replace(partial, path)


def save_identity(path: Path, identity: Identity, created: dt.datetime) -> None:
    """Create ``path`` (0600, never overwritten) holding the identity in age-keygen format."""
    write_secret(path, identity_file_text(identity, created))


def encrypt_stream(source: Source, sink: Sink, recipients: Sequence[Recipient]) -> None:
    """Encrypt everything ``source`` reads to ``recipients``, writing age v1 to ``sink``."""
    # No recipient would make ciphertext nobody can open: refuse instead.
    if not recipients:
        raise MalformedError("encryption needs at least 1 recipient, got 0")
    keys = [_pyrage_recipient(r.text) for r in recipients]
    try:
        pyrage.encrypt_io(source, sink, keys)
    except pyrage.EncryptError as exc:
        raise MalformedError(f"age encryption failed: {exc}") from exc


def decrypt_stream(source: Source, sink: Sink, identities: Sequence[Identity]) -> None:
    """Decrypt the age v1 ciphertext ``source`` reads, writing the plaintext to ``sink``.

    On ``VerificationError`` the sink may hold a prefix of authenticated plaintext; callers
    write to a temporary file and discard it (as :mod:`detente.node.blobs` does).
    """
    if not identities:
        raise MalformedError("decryption needs at least 1 identity, got 0")
    keys = [_pyrage_identity(i.secret_text()) for i in identities]
    try:
        pyrage.decrypt_io(source, sink, keys)
    except pyrage.DecryptError as exc:
        message = str(exc)
        if "No matching keys" in message:
            raise VerificationError(
                "the age ciphertext is not addressed to this identity (no matching key)"
            ) from exc
        if "Header" in message or "header" in message:
            raise MalformedError(f"not age v1 ciphertext: {message}") from exc
        raise VerificationError(f"the age ciphertext does not verify: {message}") from exc
    except OSError as exc:
        if str(exc) == _PAYLOAD_FAILURE:
            raise VerificationError(
                "the age payload does not verify (altered or truncated ciphertext)"
            ) from exc
        raise


def _pyrage_recipient(text: str) -> Any:
    if not isinstance(text, str) or not text.startswith(_RECIPIENT_PREFIX):
        raise MalformedError(f"an age X25519 recipient starts with age1, not {text!r:.20}")
    try:
        return pyrage.x25519.Recipient.from_str(text)
    except pyrage.RecipientError as exc:
        raise MalformedError(f"not an age X25519 recipient ({exc}): {text!r:.70}") from exc


def _pyrage_identity(text: str) -> Any:
    # Never echo the secret in a message.
    if not isinstance(text, str) or not text.startswith(_IDENTITY_PREFIX):
        raise MalformedError("an age X25519 identity starts with AGE-SECRET-KEY-1")
    try:
        return pyrage.x25519.Identity.from_str(text)
    except pyrage.IdentityError as exc:
        raise MalformedError(f"not an age X25519 identity ({exc})") from exc

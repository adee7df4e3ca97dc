"""c2sp.org/signed-note: text signed by one or more keys, with Ed25519 (type 0x01) keys.

A signed note is UTF-8 text ending in a newline, a blank line, then one or more lines
``— <key name> <base64(key id (4 bytes) || signature)>``. Parsing follows the Go reference
(golang.org/x/mod/sumdb/note ``Open``): no control characters but newline, the text ends
at the LAST blank line, key names are non-empty without Unicode spaces or ``+``, every
signature decodes to at least 5 bytes, and more than 100 signature lines are malformed.
One deliberate difference: base64 must be canonical (padding and unused bits as an encoder
writes them), so that two different byte strings never carry the same signature.

Verification (:func:`open_note`) follows the Go rules too: a signature whose (name, key id)
is unknown is ignored; a known key's repeated signatures after the first are dropped
unchecked; a known key whose signature fails rejects the note; a note with no verifying
known key is rejected.

Keys travel as Go-compatible strings: verifier keys ``<name>+<8 hex id>+<base64(type ||
public key)>`` and private keys ``PRIVATE+KEY+<name>+<8 hex id>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from detente.errors import MalformedError, SignatureError

__all__ = [
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

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04

#: The Go reference treats a note with more signature lines than this as malformed.
_MAX_SIGNATURES = 100
_SIG_PREFIX = "— "  # em dash U+2014 and a space
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
#: Unicode White_Space (what Go's unicode.IsSpace reports), forbidden in key names.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


# -- encoding helpers (shared with cosignature, checkpoint and receipt) ---------------------


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: alphabet, padding and unused bits exactly as encoded."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what}: invalid base64 ({len(text)} characters)") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(f"{what}: non-canonical base64 ({len(text)} characters)")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_no_controls(text: str, what: str) -> None:
    """No ASCII control character other than newline (c2sp.org/signed-note), and no lone
    surrogate (a ``str`` built in Python may hold one; it cannot be encoded as UTF-8)."""
    for position, char in enumerate(text):
        if char < " " and char != "\n":
            raise MalformedError(f"{what}: control character {ord(char):#04x} at {position}")
        if "\ud800" <= char <= "\udfff":
            raise MalformedError(f"{what}: lone surrogate {ord(char):#x} at {position}")


def _check_name(name: str, what: str = "key name") -> None:
    """Non-empty, no Unicode spaces, no '+', no control characters."""
    if not isinstance(name, str) or not name:
        raise MalformedError(f"{what} is empty")
    for position, char in enumerate(name):
        if char in _WHITE_SPACE or char == "+" or char < " " or "\ud800" <= char <= "\udfff":
            raise MalformedError(f"{what} has a forbidden character {ord(char):#x} at {position}")


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || alg || public key)[:4], read big-endian (a uint32)."""
    if not 0 <= alg <= 0xFF:
        raise MalformedError(f"signature type out of range: {alg}")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _parse_key_id(hex_id: str, what: str) -> int:
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise MalformedError(f"{what}: key id must be 8 lowercase hex digits, got {len(hex_id)}")
    return int(hex_id, 16)


def _parse_vkey(vkey: str) -> tuple[str, int, bytes]:
    """Split ``name+id+base64(type || key)``; return (name, type, key) with the id checked."""
    # The base64 part may itself contain '+': split on the first two only.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedError(f"verifier key has {len(parts)} '+'-separated parts, need 3")
    name, hex_id, key64 = parts
    _check_name(name)
    expected = _parse_key_id(hex_id, "verifier key")
    key = _b64decode(key64, "verifier key")
    if not key:
        raise MalformedError("verifier key is empty")
    calculated = key_id(name, key[0], key[1:])
    if calculated != expected:
        raise MalformedError(f"verifier key id {expected:08x} != computed {calculated:08x}")
    return name, key[0], key[1:]


def _format_vkey(name: str, alg: int, public_key: bytes) -> str:
    return f"{name}+{key_id(name, alg, public_key):08x}+{_b64encode(bytes([alg]) + public_key)}"


def _parse_skey(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse Go's ``PRIVATE+KEY+name+id+base64(0x01 || seed)``; the id is checked.

    Error messages never quote the key material.
    """
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise MalformedError("private key does not start with PRIVATE+KEY+<name>+<id>+")
    name, hex_id, key64 = parts[2], parts[3], parts[4]
    _check_name(name)
    expected = _parse_key_id(hex_id, "private key")
    key = _b64decode(key64, "private key")
    if len(key) != 1 + _ED25519_KEY_SIZE or key[0] != ALG_ED25519:
        raise MalformedError(
            f"private key must be type 0x01 and {_ED25519_KEY_SIZE} bytes, got {len(key)} bytes"
        )
    private = Ed25519PrivateKey.from_private_bytes(key[1:])
    calculated = key_id(name, ALG_ED25519, _raw_public(private))
    if calculated != expected:
        raise MalformedError(f"private key id {expected:08x} != computed {calculated:08x}")
    return name, private


def _format_skey(name: str, private: Ed25519PrivateKey) -> str:
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = key_id(name, ALG_ED25519, _raw_public(private))
    return f"PRIVATE+KEY+{name}+{kid:08x}+{_b64encode(bytes([ALG_ED25519]) + seed)}"


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# -- signatures and notes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key id, and the signature bytes after the 4-byte id."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.key_id, bool) or not 0 <= self.key_id < 1 << 32:
            raise MalformedError(f"key id out of range: {self.key_id}")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise MalformedError("signature is empty")

    def line(self) -> str:
        """``— name base64(id || signature)\\n``."""
        payload = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIG_PREFIX}{self.name} {_b64encode(payload)}\n"

    @classmethod
    def _from_line(cls, line: str, number: int) -> NoteSignature:
        if not line.startswith(_SIG_PREFIX):
            raise MalformedError(f"signature line {number} does not start with an em dash")
        name, space, sig64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise MalformedError(f"signature line {number} has no space after the key name")
        _check_name(name, f"signature line {number}: key name")
        payload = _b64decode(sig64, f"signature line {number}")
        if len(payload) < 5:
            raise MalformedError(f"signature line {number} decodes to {len(payload)} bytes, < 5")
        return cls(name, int.from_bytes(payload[:4], "big"), payload[4:])


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note, parsed but not verified (use :func:`open_note` to verify)."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        object.__setattr__(self, "signatures", tuple(self.signatures))
        count = len(self.signatures)
        if not 1 <= count <= _MAX_SIGNATURES:
            raise MalformedError(f"note has {count} signatures, need 1 to {_MAX_SIGNATURES}")
        for sig in self.signatures:
            if not isinstance(sig, NoteSignature):
                raise MalformedError(f"not a NoteSignature: {type(sig).__name__}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Note:
        """Parse a signed note; :class:`MalformedError` on anything Go's ``Open`` rejects."""
        try:
            message = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError(f"note is not valid UTF-8 at byte {exc.start}") from None
        _check_no_controls(message, "note")
        split = message.rfind("\n\n")
        if split < 0:
            raise MalformedError("note has no blank line before its signatures")
        text, block = message[: split + 1], message[split + 2 :]
        if not block.endswith("\n"):
            raise MalformedError("note signature block is empty or lacks its final newline")
        lines = block[:-1].split("\n")
        if len(lines) > _MAX_SIGNATURES:
            raise MalformedError(f"note has {len(lines)} signatures, more than {_MAX_SIGNATURES}")
        sigs = tuple(NoteSignature._from_line(line, n) for n, line in enumerate(lines, 1))
        return cls(text, sigs)

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedError("note text must end with a newline")
    _check_no_controls(text, "note text")


# -- keys ---------------------------------------------------------------------------------


class Verifier(Protocol):
    """Checks one key's signatures over a note text; ``verify`` raises SignatureError."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> None: ...


class Signer(Protocol):
    """Signs a note text; returns the signature bytes that follow the 4-byte key id."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _PublicKey:
    """An Ed25519 public key under a name, for the signature type ``_ALG``."""

    _ALG: ClassVar[int] = ALG_ED25519

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _ED25519_KEY_SIZE:
            raise MalformedError(f"Ed25519 public key must be {_ED25519_KEY_SIZE} bytes")
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise MalformedError("invalid Ed25519 public key") from exc
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "key_id", key_id(self.name, self._ALG, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Parse ``name+id+base64(type || key)``; the type must be this class's."""
        name, alg, public_key = _parse_vkey(vkey)
        if alg != cls._ALG:
            raise MalformedError(f"verifier key type {alg:#04x}, expected {cls._ALG:#04x}")
        return cls(name, public_key)

    def vkey(self) -> str:
        return _format_vkey(self.name, self._ALG, self.public_key)

    def _verify_ed25519(self, message: bytes, signature: bytes) -> None:
        if len(signature) != _ED25519_SIG_SIZE:
            raise SignatureError(
                f"invalid signature for key {self.name}+{self.key_id:08x}: "
                f"{len(signature)} bytes, expected {_ED25519_SIG_SIZE}"
            )
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise SignatureError(
                f"invalid signature for key {self.name}+{self.key_id:08x}"
            ) from None


class Ed25519Verifier(_PublicKey):
    """A c2sp.org/signed-note Ed25519 (type 0x01) verifier."""

    __slots__ = ()

    def verify(self, message: bytes, signature: bytes) -> None:
        self._verify_ed25519(message, signature)


class _PrivateKey:
    """An Ed25519 private key under a name; ``repr`` never shows the seed."""

    __slots__ = ("_name", "_private", "_public_key")
    _ALG: ClassVar[int] = ALG_ED25519

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise MalformedError(f"not an Ed25519 private key: {type(private_key).__name__}")
        self._name = name
        self._private = private_key
        self._public_key = _raw_public(private_key)

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, skey: str) -> Self:
        """From Go's ``PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)``."""
        name, private = _parse_skey(skey)
        return cls(name, private)

    def skey(self) -> str:
        """Go's private key string (type 0x01 id); keep it secret."""
        return _format_skey(self._name, self._private)

    def vkey(self) -> str:
        return _format_vkey(self._name, self._ALG, self._public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return key_id(self._name, self._ALG, self._public_key)

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_id={self.key_id:08x})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(f"{type(self).__name__} is not picklable (it holds a private key)")


class Ed25519Signer(_PrivateKey):
    """A c2sp.org/signed-note Ed25519 (type 0x01) signer."""

    __slots__ = ()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self._name, self._public_key)


def parse_vkey(vkey: str) -> Verifier:
    """A verifier from its key string, by type byte: 0x01 Ed25519, 0x04 cosignature/v1."""
    name, alg, public_key = _parse_vkey(vkey)
    if alg == ALG_ED25519:
        return Ed25519Verifier(name, public_key)
    if alg == ALG_COSIGNATURE_V1:
        from detente.tlog.cosignature import CosignatureVerifier  # here: import cycle

        return CosignatureVerifier(name, public_key)
    raise MalformedError(f"unsupported verifier key type {alg:#04x}")


# -- signing and verifying notes ------------------------------------------------------------


def sign_note(text: str, signers: Sequence[Signer], existing: Note | None = None) -> Note:
    """Sign ``text``; keep ``existing`` signatures except those by the same (name, id)."""
    _check_text(text)
    if existing is not None and existing.text != text:
        raise MalformedError("existing note has a different text")
    message = text.encode("utf-8")
    fresh = [NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers]
    replaced = {(s.name, s.key_id) for s in fresh}
    kept = (
        []
        if existing is None
        else [s for s in existing.signatures if (s.name, s.key_id) not in replaced]
    )
    return Note(text, (*kept, *fresh))


def open_note(data: bytes, verifiers: Sequence[Verifier]) -> tuple[Note, tuple[NoteSignature, ...]]:
    """Parse and verify a note; return it (duplicates dropped) and its verified signatures.

    Raises :class:`MalformedError` for a note that does not parse or a (name, id) given
    by two different verifiers, :class:`SignatureError` when a known key's signature fails
    or no known key signed.
    """
    note = Note.from_bytes(data)
    known: dict[tuple[str, int], Verifier] = {}
    ambiguous: set[tuple[str, int]] = set()
    for verifier in verifiers:
        ident = (verifier.name, verifier.key_id)
        if ident in known and known[ident] != verifier:
            ambiguous.add(ident)
        known.setdefault(ident, verifier)
    message = note.text.encode("utf-8")
    kept: list[NoteSignature] = []
    verified: list[NoteSignature] = []
    seen_known: set[tuple[str, int]] = set()
    seen_unknown: set[NoteSignature] = set()
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        match = known.get(ident)
        if match is None:
            if sig not in seen_unknown:  # drop repeated identical unknown lines
                seen_unknown.add(sig)
                kept.append(sig)
            continue
        if ident in ambiguous:
            raise MalformedError(f"ambiguous key {sig.name}+{sig.key_id:08x}")
        if ident in seen_known:  # Go drops a known key's later signatures unchecked
            continue
        seen_known.add(ident)
        match.verify(message, sig.signature)
        kept.append(sig)
        verified.append(sig)
    if not verified:
        raise SignatureError(f"note has no verifiable signatures ({len(note.signatures)} lines)")
    return Note(note.text, tuple(kept)), tuple(verified)

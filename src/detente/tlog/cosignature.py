"""c2sp.org/tlog-cosignature: timestamped Ed25519 witness cosignatures (cosignature/v1).

A cosignature is a signed-note signature line under a key of type 0x04 (key id =
SHA-256(name || 0x0A || 0x04 || public key)[:4]). After the key id it carries an 8-byte
big-endian POSIX timestamp (seconds) and a 64-byte Ed25519 signature over::

    cosignature/v1\\n
    time <decimal timestamp>\\n
    <the whole checkpoint body: origin, size, root, extension lines, final newline>

Meaning: as of that time, the largest tree consistent with this one that the cosigner has
seen for the origin has this root. The timestamp is a parameter: nothing here reads a clock.
"""

from __future__ import annotations

from typing import ClassVar

from detente.errors import MalformedError, SignatureError
from detente.tlog.note import ALG_COSIGNATURE_V1, NoteSignature, _PrivateKey, _PublicKey

__all__ = ["CosignatureSigner", "CosignatureVerifier", "cosignature_message"]

_TIMESTAMP_SIZE = 8
_SIGNATURE_SIZE = _TIMESTAMP_SIZE + 64
_MAX_TIMESTAMP = (1 << 64) - 1


def cosignature_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <ts>\\n`` followed by the checkpoint body."""
    _check_timestamp(timestamp)
    if not checkpoint_body.endswith(b"\n"):
        raise MalformedError("checkpoint body must end with a newline")
    return b"cosignature/v1\ntime %d\n" % timestamp + checkpoint_body


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise MalformedError(f"timestamp out of range: {timestamp} not in [0, 2**64)")


class CosignatureVerifier(_PublicKey):
    """A cosignature/v1 verifier; ``verify(body, ts(8) || ed25519(64))``."""

    __slots__ = ()
    _ALG: ClassVar[int] = ALG_COSIGNATURE_V1

    def verify(self, message: bytes, signature: bytes) -> None:
        """``message`` is the checkpoint body (the note text); raises SignatureError."""
        if len(signature) != _SIGNATURE_SIZE:
            raise SignatureError(
                f"invalid cosignature for key {self.name}+{self.key_id:08x}: "
                f"{len(signature)} bytes, expected {_SIGNATURE_SIZE}"
            )
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if not message.endswith(b"\n"):
            raise SignatureError(f"cosigned text for {self.name} lacks its final newline")
        signed = cosignature_message(message, timestamp)
        self._verify_ed25519(signed, signature[_TIMESTAMP_SIZE:])

    @staticmethod
    def timestamp(signature: bytes) -> int:
        """The timestamp a cosignature (the bytes after the key id) claims; not verified."""
        if len(signature) != _SIGNATURE_SIZE:
            raise MalformedError(
                f"cosignature is {len(signature)} bytes, expected {_SIGNATURE_SIZE}"
            )
        return int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")


class CosignatureSigner(_PrivateKey):
    """A cosignature/v1 signer; keys are stored as Go type-0x01 private key strings."""

    __slots__ = ()
    _ALG: ClassVar[int] = ALG_COSIGNATURE_V1

    def cosign(self, checkpoint_body: bytes, timestamp: int) -> NoteSignature:
        """The cosignature line for ``checkpoint_body`` at ``timestamp`` (seconds)."""
        signed = cosignature_message(checkpoint_body, timestamp)
        signature = timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + self._private.sign(signed)
        return NoteSignature(self.name, self.key_id, signature)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

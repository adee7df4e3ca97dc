"""A reference to an evidence blob: the SHA-256 and size of its age ciphertext (pure).

A blob's address is the SHA-256 of its CIPHERTEXT: what the hub stores and serves and what a
statement (and so the log) commits to. Anyone fetching it checks the hash before using a
byte. The plaintext's own hash belongs inside the sealed (encrypted) part of the statement
that refers to the blob, where only its recipients see it.

JSON form: ``{"sha256": "<64 hex>", "size": <bytes>, "media_type": "..."}`` (media type
optional; it describes the plaintext).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from detente.errors import MalformedError

__all__ = ["BLOB_SHA256_LENGTH", "BlobRef", "parse_sha256"]

BLOB_SHA256_LENGTH = 32
_HEX = re.compile(r"[0-9a-f]{64}")
#: RFC 6838 type/subtype with optional parameters, kept short.
_MEDIA = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_MAX_MEDIA = 255


def parse_sha256(text: str) -> bytes:
    """The 32 bytes of a lowercase hex SHA-256 (64 characters), else MalformedError."""
    if not isinstance(text, str) or not _HEX.fullmatch(text):
        shown = text[:80] if isinstance(text, str) else type(text).__name__
        raise MalformedError(f"a SHA-256 is 64 lowercase hex digits, not {shown!r}")
    return bytes.fromhex(text)


@dataclass(frozen=True, slots=True)
class BlobRef:
    """The address (ciphertext SHA-256) and size of a blob, and what its plaintext is."""

    sha256: bytes
    size: int
    media_type: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, bytes) or len(self.sha256) != BLOB_SHA256_LENGTH:
            got = len(self.sha256) if isinstance(self.sha256, bytes) else self.sha256
            raise MalformedError(f"a blob's SHA-256 has 32 bytes, not {got!r}")
        # An empty blob is never age ciphertext (its header alone has dozens of bytes).
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise MalformedError(f"a blob's size is an integer >= 1, not {self.size!r}")
        if self.media_type is not None and (
            len(self.media_type) > _MAX_MEDIA
            or not _MEDIA.fullmatch(self.media_type.split(";", 1)[0].strip())
        ):
            raise MalformedError(f"not a media type: {self.media_type!r:.80}")

    @property
    def hex(self) -> str:
        return self.sha256.hex()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.hex, "size": self.size}
        if self.media_type is not None:
            out["media_type"] = self.media_type
        return out

    @classmethod
    def from_json(cls, raw: object) -> BlobRef:
        if not isinstance(raw, dict):
            raise MalformedError("a blob reference is a JSON object")
        unknown = set(raw) - {"sha256", "size", "media_type"}
        if unknown:
            raise MalformedError(f"a blob reference has unknown fields {sorted(unknown)}")
        if "sha256" not in raw or "size" not in raw:
            raise MalformedError("a blob reference needs sha256 and size")
        media = raw.get("media_type")
        if media is not None and not isinstance(media, str):
            raise MalformedError("a blob's media_type is a string")
        return cls(parse_sha256(raw["sha256"]), raw["size"], media)

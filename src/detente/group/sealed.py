"""A group state sealed for storage: pickled, authenticated, and checked against its digest.

The hub and every node keep a snapshot of their group state so a restart need not replay the
whole log. :mod:`pickle` must never load bytes an attacker chose, so a sealed state carries an
HMAC-SHA256 under a key derived from a secret the process holds outside its database (the
log's or the party's private key) and a domain naming the holder; after loading, the state's
digest is recomputed and compared too. Pure: bytes in, bytes or a state out.

The pickle starts with ``FORMAT``, raised whenever the state's classes change in a way an
older pickle would still load into (a field's type, say: the maps were pyrsistent ``PMap``
before format 2); a snapshot of another format is not used, and the log is replayed instead.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from dataclasses import dataclass

from detente.group.state import GroupState

__all__ = ["FORMAT", "SealedState", "seal", "unseal"]

#: The version of the state's classes a snapshot was pickled from (see above).
FORMAT = 2


@dataclass(frozen=True, slots=True)
class SealedState:
    """What is stored: the size and digest of the state, its pickle, and their HMAC."""

    size: int
    digest: bytes
    data: bytes
    mac: bytes

    def row(self) -> dict[str, object]:
        """The one row of a snapshot table (``id`` 1, then these four columns)."""
        return {"id": 1, "size": self.size, "digest": self.digest, "data": self.data,
                "mac": self.mac}  # fmt: skip

    @classmethod
    def from_row(
        cls,
        size: int,
        digest: bytes | memoryview,
        data: bytes | memoryview,
        mac: bytes | memoryview,
    ) -> SealedState:
        """From the four columns as a database driver returns them (bytes or memoryview)."""
        return cls(int(size), bytes(digest), bytes(data), bytes(mac))


def _mac(key: bytes, size: int, digest: bytes, data: bytes) -> bytes:
    return hmac.new(key, size.to_bytes(8, "big") + digest + data, hashlib.sha256).digest()


def _key(secret: bytes, domain: bytes) -> bytes:
    return hashlib.sha256(domain + b"\n" + secret).digest()


def seal(
    state: GroupState, secret: bytes, domain: bytes, digest: bytes | None = None
) -> SealedState:
    """Seal ``state`` under ``secret`` for ``domain`` (e.g. b"detente hub snapshot v1")."""
    digest = state.digest() if digest is None else digest
    data = pickle.dumps((FORMAT, state), protocol=pickle.HIGHEST_PROTOCOL)
    return SealedState(
        state.size, digest, data, _mac(_key(secret, domain), state.size, digest, data)
    )


def unseal(sealed: SealedState, secret: bytes, domain: bytes) -> GroupState | None:
    """The state, or None when the seal does not authenticate, the digest does not match, or
    the snapshot was written by another version of the state's classes."""
    expected = _mac(_key(secret, domain), sealed.size, sealed.digest, sealed.data)
    if not hmac.compare_digest(sealed.mac, expected):
        return None
    try:
        loaded = pickle.loads(sealed.data)  # noqa: S301  (authenticated above)
        if not isinstance(loaded, tuple) or len(loaded) != 2 or loaded[0] != FORMAT:
            return None  # another format (before format 2: the bare state)
        state = loaded[1]
        if not isinstance(state, GroupState) or state.size != sealed.size:
            return None
        if state.digest() != sealed.digest:
            return None
    except (AttributeError, TypeError, ValueError, pickle.UnpicklingError):
        # Written by another version of the state's classes (a field added or removed): the
        # caller replays the log instead.
        return None
    return state

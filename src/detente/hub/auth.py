"""Who is asking: challenge-response login of a member, and short-lived bearer tokens.

1. ``challenge(party)`` gives a random nonce, valid ``challenge_ttl`` seconds, usable once.
2. The member signs :func:`auth_message` (domain-separated: the hub's log origin, the party
   and the nonce, so a signature is good for this hub and this login only) with its current
   signing key (Ed25519) and calls ``token(party, nonce, signature)``.
3. The token is valid ``token_ttl`` seconds and only while the party is a member whose
   current signing key is still the one that signed: rotating keys or leaving the group ends
   every token issued before.

Tokens and challenges live in memory (a restart logs everybody out). Time comes from the
injected ``clock`` (POSIX seconds), so expiry is tested without sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from detente.errors import MalformedError, NotFoundError, SignatureError
from detente.group.state import GroupState

__all__ = ["AUTH_DOMAIN", "Authenticator", "Grant", "auth_message"]

AUTH_DOMAIN = b"detente hub login v1\n"
_MAX_OPEN = 10_000
_NONCE_BYTES = 32


def _token_key(token: str) -> bytes:
    # Tokens are looked up by their hash, so lookup timing says nothing about a token.
    return hashlib.sha256(token.encode()).digest()


def auth_message(origin: str, party: str, nonce: str) -> bytes:
    """The bytes a member signs to log in: domain, hub log origin, party, nonce."""
    return AUTH_DOMAIN + f"{origin}\n{party}\n{nonce}\n".encode()


@dataclass(frozen=True, slots=True)
class Grant:
    """A bearer token: the party it speaks for, the key that logged in, when it expires."""

    token: str
    party: str
    key: bytes
    expires_at: float


class Authenticator:
    """Challenges and tokens of one hub (log ``origin``), checked against the group state."""

    def __init__(
        self,
        origin: str,
        clock: Callable[[], float],
        *,
        token_ttl: float = 900.0,
        challenge_ttl: float = 60.0,
    ) -> None:
        self._origin = origin
        self._clock = clock
        self._token_ttl = token_ttl
        self._challenge_ttl = challenge_ttl
        self._challenges: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._tokens: OrderedDict[bytes, Grant] = OrderedDict()

    @staticmethod
    def _member_key(state: GroupState, party: str) -> bytes:
        if not state.is_member(party):
            raise NotFoundError(f"{party!r} is not a member of the group")
        return state.parties[party].signing_key

    def _expire(self) -> None:
        now = self._clock()
        for table in (self._challenges, self._tokens):
            while len(table) > _MAX_OPEN:
                table.popitem(last=False)
        for nonce in [n for n, (_, exp) in self._challenges.items() if exp <= now]:
            del self._challenges[nonce]
        for token in [t for t, g in self._tokens.items() if g.expires_at <= now]:
            del self._tokens[token]

    def challenge(self, state: GroupState, party: str) -> tuple[str, float]:
        """A fresh nonce for ``party`` and when it expires; NotFoundError for a non-member."""
        self._member_key(state, party)
        self._expire()
        nonce = secrets.token_urlsafe(_NONCE_BYTES)
        expires = self._clock() + self._challenge_ttl
        self._challenges[nonce] = (party, expires)
        return nonce, expires

    def token(self, state: GroupState, party: str, nonce: str, signature: bytes) -> Grant:
        """Exchange a signed challenge for a token.

        NotFoundError for an unknown, expired or used nonce or another party's nonce (the
        nonce is spent either way); SignatureError when the signature is not the party's
        current key over :func:`auth_message`.
        """
        self._expire()
        found = self._challenges.pop(nonce, None)
        if found is None or found[0] != party or found[1] <= self._clock():
            raise NotFoundError("no open challenge with this nonce for this party")
        key = self._member_key(state, party)
        if len(signature) != 64:
            raise MalformedError(f"an Ed25519 signature is 64 bytes, not {len(signature)}")
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(
                signature, auth_message(self._origin, party, nonce)
            )
        except InvalidSignature as exc:
            raise SignatureError(f"the challenge is not signed by {party}'s current key") from exc
        grant = Grant(
            secrets.token_urlsafe(_NONCE_BYTES), party, key, self._clock() + self._token_ttl
        )
        self._tokens[_token_key(grant.token)] = grant
        return grant

    def check(self, state: GroupState, token: str) -> Grant:
        """The grant of a valid token; SignatureError when it is unknown, expired or stale."""
        grant = self._tokens.get(_token_key(token))
        if grant is None or grant.expires_at <= self._clock():
            raise SignatureError("unknown or expired token")
        party = state.parties.get(grant.party)
        if party is None or party.left or party.signing_key != grant.key:
            self._tokens.pop(_token_key(grant.token), None)
            raise SignatureError(f"the token's key is no longer {grant.party}'s current key")
        return grant

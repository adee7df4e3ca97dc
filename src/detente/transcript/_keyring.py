"""Which signing key each author held at each index, from genesis and the included history.

Private to ``detente.transcript.verify``. Fed entries in index order, it checks each one's
signature with its author's key at that index and then learns from it: a ``party.admit``
vote that reaches the admission quorum adds the party's key (valid from the next entry),
a ``party.rotate-keys`` (which the new key must sign too) replaces the author's key from the
next entry. A key history the exporter left incomplete shows up as an unknown author or a
signature that does not verify, never as a silently accepted statement by an unknown key;
a rotation left out is the one thing a bundle cannot show (see the transcript's notes).
"""

from __future__ import annotations

from detente.errors import SignatureError, VerificationError
from detente.group.state import GroupState
from detente.statements.envelope import key_id, verify_signature
from detente.statements.kinds import PartyAdmit, PartyRotateKeys
from detente.statements.payload import SignedStatement

__all__ = ["KeyRing"]

_Vote = tuple[str, str, bytes, str]  # party id, name, signing key, encryption key


class KeyRing:
    """A mutable accumulator used inside one verification only."""

    def __init__(self, genesis: GroupState) -> None:
        self._keys: dict[str, bytes] = {p.id: p.signing_key for p in genesis.parties.values()}
        self._in_use: set[bytes] = set(self._keys.values())
        self._quorum = genesis.admission_quorum
        self._votes: dict[_Vote, set[str]] = {}

    def key(self, party: str) -> bytes | None:
        return self._keys.get(party)

    def check(self, index: int, signed: SignedStatement) -> None:
        """Verify ``signed`` (entry ``index``) with its author's key there, then learn from it."""
        statement = signed.statement
        author = statement.author
        key = self._keys.get(author)
        if key is None:
            raise VerificationError(
                f"entry {index} is by {author}, whose admission to the group is not in the bundle"
            )
        try:
            verify_signature(signed.envelope, key)
        except SignatureError as exc:
            raise SignatureError(
                f"entry {index} ({statement.kind} by {author}) is not signed by {author}'s key "
                f"{key_id(key)} valid at that index: {exc}"
            ) from exc
        body = statement.body
        if isinstance(body, PartyRotateKeys):
            try:
                verify_signature(signed.envelope, body.signing_key)
            except SignatureError as exc:
                raise SignatureError(
                    f"entry {index}: {author}'s key rotation is not signed by the new key: {exc}"
                ) from exc
            if body.signing_key in self._in_use:
                raise VerificationError(f"entry {index}: {author} rotates to a key already used")
            self._keys[author] = body.signing_key
            self._in_use.add(body.signing_key)
        elif isinstance(body, PartyAdmit):
            party = body.party
            vote = (party.id, party.name, party.signing_key, party.encryption_key)
            voters = self._votes.setdefault(vote, set())
            voters.add(author)
            if party.id not in self._keys and len(voters) >= self._quorum:
                if party.signing_key in self._in_use:
                    raise VerificationError(f"entry {index} admits {party.id} with a used key")
                self._keys[party.id] = party.signing_key
                self._in_use.add(party.signing_key)

"""Member login: challenges, tokens, expiry and key rotation, with an explicit clock."""

from __future__ import annotations

import pytest

from detente.errors import MalformedError, NotFoundError, SignatureError
from detente.hub.auth import AUTH_DOMAIN, Authenticator, auth_message
from detente.statements.kinds import PartyLeave, PartyRotateKeys
from group.scenario import AGE, party_key, public_key
from group.world import World

ORIGIN = "detente.test/hub"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _login(auth: Authenticator, world: World, party: str, key: str | None = None) -> str:
    nonce, _ = auth.challenge(world.state, party)
    signature = party_key(key or party).sign(auth_message(ORIGIN, party, nonce))
    return auth.token(world.state, party, nonce, signature).token


def test_message_is_domain_separated() -> None:
    message = auth_message(ORIGIN, "blueland", "n0nce")
    assert message.startswith(AUTH_DOMAIN)
    assert message != auth_message("other.example/hub", "blueland", "n0nce")


def test_login_and_check() -> None:
    world, clock = World(), Clock()
    auth = Authenticator(ORIGIN, clock, token_ttl=900, challenge_ttl=60)
    token = _login(auth, world, "blueland")
    grant = auth.check(world.state, token)
    assert grant.party == "blueland"
    assert grant.key == public_key("blueland")
    assert grant.expires_at == clock.now + 900
    with pytest.raises(SignatureError, match="unknown or expired"):
        auth.check(world.state, token + "x")


def test_token_expires() -> None:
    world, clock = World(), Clock()
    auth = Authenticator(ORIGIN, clock, token_ttl=900)
    token = _login(auth, world, "redland")
    clock.now += 899
    auth.check(world.state, token)
    clock.now += 1
    with pytest.raises(SignatureError, match="expired"):
        auth.check(world.state, token)


def test_refusals() -> None:
    world, clock = World(), Clock()
    auth = Authenticator(ORIGIN, clock, challenge_ttl=60)
    with pytest.raises(NotFoundError, match="not a member"):
        auth.challenge(world.state, "yellowland")
    nonce, _ = auth.challenge(world.state, "blueland")
    wrong = party_key("redland").sign(auth_message(ORIGIN, "blueland", nonce))
    with pytest.raises(SignatureError, match="current key"):
        auth.token(world.state, "blueland", nonce, wrong)
    good = party_key("blueland").sign(auth_message(ORIGIN, "blueland", nonce))
    with pytest.raises(NotFoundError, match="no open challenge"):
        auth.token(world.state, "blueland", nonce, good)  # spent by the failed attempt
    nonce, _ = auth.challenge(world.state, "blueland")
    with pytest.raises(NotFoundError, match="no open challenge"):
        auth.token(world.state, "redland", nonce, good)  # another party's nonce
    nonce, _ = auth.challenge(world.state, "blueland")
    with pytest.raises(MalformedError, match="64 bytes"):
        auth.token(world.state, "blueland", nonce, b"short")
    nonce, _ = auth.challenge(world.state, "blueland")
    clock.now += 60
    signed = party_key("blueland").sign(auth_message(ORIGIN, "blueland", nonce))
    with pytest.raises(NotFoundError, match="no open challenge"):
        auth.token(world.state, "blueland", nonce, signed)


def test_rotation_and_leaving_end_tokens() -> None:
    world, clock = World(), Clock()
    auth = Authenticator(ORIGIN, clock)
    token = _login(auth, world, "blueland")
    rotate = PartyRotateKeys(signing_key=public_key("blueland/2"), encryption_key=AGE["blueland/2"])
    world.ok("blueland", rotate, signers=["blueland", "blueland/2"])
    world.chain.keys["blueland"] = "blueland/2"
    with pytest.raises(SignatureError, match="no longer"):
        auth.check(world.state, token)
    token = _login(auth, world, "blueland", "blueland/2")
    auth.check(world.state, token)
    world.ok("blueland", PartyLeave())
    with pytest.raises(SignatureError):
        auth.check(world.state, token)

"""A sealed state opens only with its secret and domain, and only untouched."""

from __future__ import annotations

import dataclasses

import pytest

from detente.group.sealed import seal, unseal
from detente.group.state import GroupState
from group.world import World

SECRET = b"s" * 32
DOMAIN = b"detente test snapshot v1"


def test_a_sealed_state_opens_to_the_same_digest() -> None:
    state = World().state
    opened = unseal(seal(state, SECRET, DOMAIN), SECRET, DOMAIN)
    assert opened is not None
    assert opened.digest() == state.digest()


def test_wrong_secret_wrong_domain_or_any_change_does_not_open() -> None:
    state = World().state
    sealed = seal(state, SECRET, DOMAIN)
    assert unseal(sealed, b"t" * 32, DOMAIN) is None
    assert unseal(sealed, SECRET, b"detente other snapshot v1") is None
    flipped = bytes([sealed.data[-1] ^ 1])
    for changed in (
        dataclasses.replace(sealed, data=sealed.data[:-1] + flipped),
        dataclasses.replace(sealed, size=sealed.size + 1),
        dataclasses.replace(sealed, digest=bytes(32)),
        dataclasses.replace(sealed, mac=bytes(32)),
    ):
        assert unseal(changed, SECRET, DOMAIN) is None


def test_a_well_sealed_state_whose_digest_lies_does_not_open() -> None:
    state = World().state
    lying = seal(state, SECRET, DOMAIN, digest=bytes(32))  # the sealer itself got it wrong
    assert unseal(lying, SECRET, DOMAIN) is None


def test_a_snapshot_from_another_version_of_the_state_does_not_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A field added since the snapshot was written is missing from it: replay instead."""
    state = World().state
    digest = state.digest()
    every_field = GroupState.__getstate__
    # Pickle as a GroupState without its last field (``markings``) would have been.
    monkeypatch.setattr(GroupState, "__getstate__", lambda self: every_field(self)[:-1])
    sealed = seal(state, SECRET, DOMAIN, digest=digest)
    monkeypatch.undo()
    assert unseal(sealed, SECRET, DOMAIN) is None


def test_a_snapshot_of_format_1_does_not_open_though_it_would_load() -> None:
    """Format 1 pickled the bare state, its maps pyrsistent PMaps. Such a pickle still loads
    into today's classes and even digests the same (the encoding is generic over mappings),
    but its maps are of the wrong type: it must not open, so the log is replayed instead."""
    import hmac
    import pickle

    from pyrsistent import pmap

    from detente.group import sealed as sealed_module

    state = World().state
    old = dataclasses.replace(state, heads=pmap(dict(state.heads.items())))
    assert old.digest() == state.digest()
    data = pickle.dumps(old, protocol=pickle.HIGHEST_PROTOCOL)
    key = sealed_module._key(SECRET, DOMAIN)
    mac = sealed_module._mac(key, state.size, state.digest(), data)
    format_1 = sealed_module.SealedState(state.size, state.digest(), data, mac)
    assert hmac.compare_digest(format_1.mac, mac)
    assert unseal(format_1, SECRET, DOMAIN) is None
    assert unseal(seal(state, SECRET, DOMAIN), SECRET, DOMAIN) is not None

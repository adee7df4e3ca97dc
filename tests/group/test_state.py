"""The state digest: the same log gives the same digest; any difference in it shows."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from detente.group import GroupState, apply, genesis
from detente.statements.kinds import ContactRole, Ping
from group.scenario import Chain, build_genesis, build_seed_scenario
from group.world import START

LATER = START + dt.timedelta(days=1)


def _replay(entries: list[bytes], at: dt.datetime = LATER) -> GroupState:
    state = genesis(entries[0])
    for entry in entries[1:]:
        state = apply(state, entry, at=at)
    return state


def test_two_replays_give_the_same_digest() -> None:
    entries = build_seed_scenario(START)
    first, second = _replay(entries), _replay(entries, at=LATER + dt.timedelta(days=400))
    assert first == second
    assert first.digest() == second.digest()
    assert len(first.digest()) == 32


def test_the_seed_scenario_is_stable_bytes() -> None:
    assert build_seed_scenario(START) == build_seed_scenario(START)


def _pings(changed: int | None, count: int = 8) -> GroupState:
    """Blueland pings Redland ``count`` times; ping ``changed`` asks for a reply a minute later."""
    chain = Chain()
    state = genesis(chain.genesis(build_genesis(START), START, ["blueland", "redland"]))
    for number in range(count):
        minutes = 31 if number == changed else 30
        ping = Ping(
            id=f"p-{number}",
            to=("redland",),
            role=ContactRole.TECHNICAL,
            reply_within_minutes=minutes,
        )
        state = apply(state, chain.make("blueland", ping, START), at=START)
    return state


@pytest.mark.parametrize("changed", range(8))
def test_digest_differs_when_any_applied_entry_differs(changed: int) -> None:
    assert _pings(None).digest() == _pings(None).digest()
    assert _pings(changed).digest() != _pings(None).digest()


def test_apply_leaves_the_old_state_untouched() -> None:
    entries = build_seed_scenario(START)
    states = [genesis(entries[0])]
    for entry in entries[1:]:
        states.append(apply(states[-1], entry, at=LATER))
    digests = [s.digest() for s in states]
    assert len(set(digests)) == len(digests)
    assert [s.digest() for s in _states_again(entries)] == digests
    assert [s.size for s in states] == list(range(1, len(entries) + 1))


def _states_again(entries: list[bytes]) -> list[GroupState]:
    states = [genesis(entries[0])]
    for entry in entries[1:]:
        states.append(apply(states[-1], entry, at=LATER))
    return states


def test_state_is_frozen() -> None:
    state = _replay(build_seed_scenario(START))
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.size = 0  # type: ignore[misc]


def test_canonical_encoding_is_json_with_sorted_keys() -> None:
    text = _replay(build_seed_scenario(START)).canonical().decode()
    assert text.startswith('{"acknowledge_hours":24,')
    assert "election-integrity-accord" in text

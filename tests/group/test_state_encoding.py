"""The fast canonical encoder writes exactly what ``json.dumps`` of ``_plain`` writes."""

from __future__ import annotations

import datetime as dt
import json
from enum import IntEnum, StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st
from immutables import Map
from pyrsistent import pvector

from detente.group import apply, genesis
from detente.group.state import _encode, _plain
from group.scenario import build_seed_scenario
from group.world import START


def _reference(value: object) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Level(IntEnum):
    HIGH = 3


class _Word(StrEnum):
    ODD = 'quote" backslash\\ é \u2028'


def test_every_state_of_the_seed_scenario_encodes_as_the_reference() -> None:
    entries = build_seed_scenario(START)
    state = genesis(entries[0])
    assert _encode(state) == _reference(state)
    for entry in entries[1:]:
        state = apply(state, entry, at=START + dt.timedelta(days=1))
        assert _encode(state) == _reference(state)
        assert state.canonical() == _reference(state).encode()


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        'a"b\\c\n\x00\x1f é \ud7ff',
        b"\x00\xff",
        _Level.HIGH,
        _Word.ODD,
        (),
        Map(),
        pvector([1, "x", None, (True,)]),
        Map({b"\x01": 1, "01": 2}),  # one spelling for two keys: the same one wins
        Map({1: "a", 10: "b", 2: "c"}),
        {"b": [1, {"z": None}], "a": ()},
        dt.datetime(2026, 11, 27, 12, 0, 1, tzinfo=dt.UTC),
    ],
)
def test_odd_values_encode_as_the_reference(value: object) -> None:
    assert _encode(value) == _reference(value)


@pytest.mark.parametrize("value", [1.5, object(), dt.date(2026, 1, 1), {"a": 1.5}, {1.5: 1}])
def test_what_the_reference_refuses_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        _reference(value)
    with pytest.raises(TypeError):
        _encode(value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4) | st.binary(max_size=3), inner, max_size=4).map(Map)
    ),
    max_leaves=20,
)


@given(_json)
def test_random_values_encode_as_the_reference(value: object) -> None:
    assert _encode(value) == _reference(value)

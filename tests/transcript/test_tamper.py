"""The acceptance test: any single-byte change of a statement, proof or checkpoint is refused.

The exhaustive walks (every byte of every field, every byte of the file) are marked slow;
the fast suite samples the same spaces with Hypothesis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError, VerificationError
from detente.transcript import Bundle, EarlierCheckpoint, LoggedEntry, Subject, verify_bundle
from group.scenario import INCIDENT, build_seed_scenario
from transcript.seedlog import (
    LOG_SIGNER,
    ORIGIN,
    START,
    WITNESS_KEYS,
    export,
    open_log,
    seed_batches,
)

REFUSED = (MalformedError, VerificationError)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    entries = build_seed_scenario(
        START, log_origin=ORIGIN, log_vkey=LOG_SIGNER.vkey(), witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )  # fmt: skip
    log = open_log(tmp_path_factory.mktemp("tamper"), seed_batches(entries))
    made = export(log, Subject.incident(INCIDENT))
    verify_bundle(made.to_bytes())  # the untouched bundle verifies
    return made


def _flip(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]


def _sites(bundle: Bundle) -> list[tuple[str, int, int, int]]:
    """(field, item, hash, length) for every byte string a mutation may hit."""
    sites: list[tuple[str, int, int, int]] = [("checkpoint", 0, -1, len(bundle.checkpoint))]
    for name in ("genesis", "statements", "key_history"):
        items = [bundle.genesis] if name == "genesis" else list(getattr(bundle, name))
        for k, item in enumerate(items):
            sites.append((name, k, -1, len(item.entry)))
            sites.extend((name, k, j, 32) for j in range(len(item.proof)))
    for k, older in enumerate(bundle.earlier):
        sites.append(("earlier", k, -1, len(older.note)))
        sites.extend(("earlier", k, j, 32) for j in range(len(older.proof)))
    return sites


def _mutate(bundle: Bundle, site: tuple[str, int, int, int], position: int, value: int) -> Bundle:
    name, k, j, _ = site
    if name == "checkpoint":
        return dataclasses.replace(bundle, checkpoint=_flip(bundle.checkpoint, position, value))
    if name == "earlier":
        older = bundle.earlier[k]
        if j < 0:
            changed = EarlierCheckpoint(_flip(older.note, position, value), older.proof)
        else:
            proof = list(older.proof)
            proof[j] = _flip(proof[j], position, value)
            changed = EarlierCheckpoint(older.note, tuple(proof))
        earlier = list(bundle.earlier)
        earlier[k] = changed
        return dataclasses.replace(bundle, earlier=tuple(earlier))
    items = [bundle.genesis] if name == "genesis" else list(getattr(bundle, name))
    item = items[k]
    if j < 0:
        new = LoggedEntry(item.index, _flip(item.entry, position, value), item.proof)
    else:
        proof = list(item.proof)
        proof[j] = _flip(proof[j], position, value)
        new = LoggedEntry(item.index, item.entry, tuple(proof))
    if name == "genesis":
        return dataclasses.replace(bundle, genesis=new)
    items[k] = new
    return dataclasses.replace(bundle, **{name: tuple(items)})


def _refused(data: bytes) -> None:
    with pytest.raises(REFUSED):
        verify_bundle(data)


def _all_mutations(bundle: Bundle) -> Iterator[tuple[tuple[str, int, int, int], int]]:
    for site in _sites(bundle):
        for position in range(site[3]):
            yield site, position


def test_the_bundle_covers_every_kind_of_field(bundle: Bundle) -> None:
    kinds = {(name, j >= 0) for name, _, j, _ in _sites(bundle)}
    assert {("statements", False), ("statements", True), ("checkpoint", False)} <= kinds
    assert {("earlier", False), ("earlier", True), ("genesis", True)} <= kinds


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_sampled_field_changes_are_refused(bundle: Bundle, data: st.DataObject) -> None:
    sites = _sites(bundle)
    site = data.draw(st.sampled_from(sites))
    position = data.draw(st.integers(0, site[3] - 1))
    original = _field_byte(bundle, site, position)
    value = data.draw(st.integers(0, 255).filter(lambda v: v != original))
    _refused(_mutate(bundle, site, position, value).to_bytes())


def _field_byte(bundle: Bundle, site: tuple[str, int, int, int], position: int) -> int:
    name, k, j, _ = site
    if name == "checkpoint":
        return bundle.checkpoint[position]
    if name == "earlier":
        older = bundle.earlier[k]
        return older.note[position] if j < 0 else older.proof[j][position]
    item = bundle.genesis if name == "genesis" else getattr(bundle, name)[k]
    return item.entry[position] if j < 0 else item.proof[j][position]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_sampled_file_byte_changes_are_refused(bundle: Bundle, data: st.DataObject) -> None:
    raw = bundle.to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]))
    _refused(_flip(raw, position, value))


def test_truncation_and_trailing_garbage_are_refused(bundle: Bundle) -> None:
    raw = bundle.to_bytes()
    for data in (raw[:-1], raw + b"\n", raw + b" ", b"", raw[: len(raw) // 2]):
        with pytest.raises(MalformedError):
            verify_bundle(data)


@pytest.mark.slow
def test_every_single_byte_change_of_every_field_is_refused(bundle: Bundle) -> None:
    count = 0
    for site, position in _all_mutations(bundle):
        value = _field_byte(bundle, site, position) ^ 0x01
        _refused(_mutate(bundle, site, position, value).to_bytes())
        count += 1
    assert count > 10_000


@pytest.mark.slow
def test_every_byte_flip_of_the_file_is_refused(bundle: Bundle) -> None:
    raw = bundle.to_bytes()
    for position in range(len(raw)):
        _refused(_flip(raw, position, raw[position] ^ 0x01))

"""The acceptance test: any single-byte change of a statement, proof or checkpoint is refused.

The exhaustive walks (every byte of every field, every byte of the file) are marked slow;
the fast suite samples the same spaces with Hypothesis.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente.errors import MalformedError, VerificationError
from detente.transcript import Bundle, Subject, verify_bundle
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
from transcript.tampering import all_mutations, field_byte, flip, mutate, sites

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


def _refused(data: bytes) -> None:
    with pytest.raises(REFUSED):
        verify_bundle(data)


def test_the_bundle_covers_every_kind_of_field(bundle: Bundle) -> None:
    kinds = {(name, j >= 0) for name, _, j, _ in sites(bundle)}
    assert {("statements", False), ("statements", True), ("checkpoint", False)} <= kinds
    assert {("earlier", False), ("earlier", True), ("genesis", True)} <= kinds


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_sampled_field_changes_are_refused(bundle: Bundle, data: st.DataObject) -> None:
    site = data.draw(st.sampled_from(sites(bundle)))
    position = data.draw(st.integers(0, site[3] - 1))
    original = field_byte(bundle, site, position)
    value = data.draw(st.integers(0, 255).filter(lambda v: v != original))
    _refused(mutate(bundle, site, position, value).to_bytes())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_sampled_file_byte_changes_are_refused(bundle: Bundle, data: st.DataObject) -> None:
    raw = bundle.to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]))
    _refused(flip(raw, position, value))


def test_truncation_and_trailing_garbage_are_refused(bundle: Bundle) -> None:
    raw = bundle.to_bytes()
    for data in (raw[:-1], raw + b"\n", raw + b" ", b"", raw[: len(raw) // 2]):
        with pytest.raises(MalformedError):
            verify_bundle(data)


@pytest.mark.slow
def test_every_single_byte_change_of_every_field_is_refused(bundle: Bundle) -> None:
    count = 0
    for site, position in all_mutations(bundle):
        value = field_byte(bundle, site, position) ^ 0x01
        _refused(mutate(bundle, site, position, value).to_bytes())
        count += 1
    assert count > 10_000


@pytest.mark.slow
def test_every_byte_flip_of_the_file_is_refused(bundle: Bundle) -> None:
    raw = bundle.to_bytes()
    for position in range(len(raw)):
        _refused(flip(raw, position, raw[position] ^ 0x01))

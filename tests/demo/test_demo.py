"""`detente demo --once`: the whole system on loopback plays the founding scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detente.demo import scenario, start_demo
from detente.errors import MalformedError, VerificationError
from detente.transcript import Bundle
from detente.transcript.verify import verify_bundle
from transcript.tampering import all_mutations, field_byte, mutate


def test_demo_plays_the_scenario_and_every_side_agrees(tmp_path: Path) -> None:
    with start_demo(tmp_path / "demo") as demo:
        kinds = [(s.party, s.kind) for s in demo.steps]
        assert ("blueland", "incident.notify") in kinds
        assert ("redland", "incident.respond") in kinds
        assert kinds[-1] == ("blueland", "ping")
        assert all(s.receipt_verified for s in demo.steps)
        digests = {n.state().digest() for n in demo.nodes.values()}
        assert len(digests) == 1
        state = demo.nodes["blueland"].state()
        assert state.agreements[scenario.ACCORD].in_force_at is not None
        acks = [p for p in state.pings[scenario.PING].acks]
        assert acks == ["redland"]
        for path in demo.bundle_paths.values():
            transcript = verify_bundle(path.read_bytes())
            assert [r.kind for r in transcript.rows][-2:] == [
                "consultation.request",
                "consultation.record",
            ]


def test_demo_once_command_exits_zero_after_verifying(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "detente", "demo", "--data", str(tmp_path), "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the hub and both nodes agree" in result.stdout
    assert result.stdout.count("VALID") == 2
    assert "answered in" in result.stdout


@pytest.mark.slow
def test_demo_bundle_is_refused_after_any_single_byte_change(tmp_path: Path) -> None:
    """Every byte of every statement, proof and checkpoint of the demo's exported bundle,
    flipped one at a time, makes `detente verify`'s check refuse the bundle."""
    with start_demo(tmp_path / "demo") as demo:
        raw = demo.bundle_paths["redland"].read_bytes()
    bundle = Bundle.from_bytes(raw)
    verify_bundle(raw)
    count = 0
    for site, position in all_mutations(bundle):
        changed = mutate(bundle, site, position, field_byte(bundle, site, position) ^ 0x01)
        with pytest.raises((MalformedError, VerificationError)):
            verify_bundle(changed.to_bytes())
        count += 1
    assert count > 5_000

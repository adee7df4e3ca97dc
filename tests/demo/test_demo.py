"""`detente demo --once`: the whole system on loopback plays the founding scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from detente.demo import scenario, start_demo
from detente.transcript.verify import verify_bundle


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

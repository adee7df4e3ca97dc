"""build_bundle / export_to_file against a real log."""

from __future__ import annotations

from pathlib import Path

import pytest

from detente.errors import NotFoundError
from detente.transcript import Bundle, Subject, export_to_file, verify_bundle
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


def test_export_to_file_and_nothing_to_export(tmp_path: Path) -> None:
    entries = build_seed_scenario(
        START, log_origin=ORIGIN, log_vkey=LOG_SIGNER.vkey(), witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )  # fmt: skip
    log = open_log(tmp_path, seed_batches(entries))
    store = log.store
    final = store.latest_published()
    assert final is not None
    assert final.cosigned is not None
    path = tmp_path / "incident.json"
    bundle = export_to_file(
        path,
        Subject.incident(INCIDENT),
        checkpoint=final.cosigned,
        fetch_entry=lambda i: store.read_entries(i, 1)[0],
        fetch_proof=store.inclusion_proof,
    )
    assert Bundle.from_bytes(path.read_bytes()) == bundle
    assert bundle.earlier == ()
    assert verify_bundle(path.read_bytes()).rows[-1].index == 11
    # The earlier checkpoints come sorted, the empty tree's and the final one's skipped.
    assert len(export(log, Subject.incident(INCIDENT)).earlier) == 3
    with pytest.raises(NotFoundError):
        export(log, Subject.incident("inc-nobody-wrote"))
    with pytest.raises(NotFoundError):
        export(log, Subject.agreement("no-such-accord"))

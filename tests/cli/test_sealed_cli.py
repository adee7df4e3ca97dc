"""``detente say`` seals AMBER statements, ``show incident`` opens them for recipients only,
``say reshare`` holds to the marking and ``node rotate-keys`` rotates both keys."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from detente.cli._app import app
from detente.crypto.age import IDENTITY_FILE, Recipient, load_identities
from detente.node.blobs import seal_file
from detente.statements.kinds import IntelShare, Tlp
from node.sealedgroup import SealedGroup, sealed_group


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealedGroup]:
    with sealed_group(tmp_path_factory.mktemp("sealed-cli")) as running:
        yield running


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "240"})
    return result.exit_code, " ".join(result.output.split())


def _node(group: SealedGroup, party: str) -> str:
    return str(group.root / party)


def test_notify_seals_by_default_and_show_opens_it_for_recipients_only(
    group: SealedGroup,
) -> None:
    code, out = _run(
        "say", "notify", "--to", "redland", "--purpose", "notification",
        "--title", "Scanning seen", "--summary", "Only for Redland's eyes",
        "--id", "cli-sealed", "--node", _node(group, "blueland"),
    )  # fmt: skip
    assert code == 0, out
    assert "AMBER" in out
    assert "encrypted to blueland, redland" in out
    for party in ("redland", "greenland"):
        code, out = _run("node", "sync", "--node", _node(group, party))
        assert code == 0, out
    code, out = _run("show", "incident", "cli-sealed", "--node", _node(group, "redland"))
    assert code == 0, out
    assert "Scanning seen" in out
    assert "opened here" in out
    code, out = _run("show", "incident", "cli-sealed", "--node", _node(group, "greenland"))
    assert code == 0, out
    assert "Scanning seen" not in out
    assert "sealed to blueland, redland" in out
    assert "cannot read it" in out
    code, out = _run("show", "incidents", "--node", _node(group, "greenland"))
    assert code == 0, out
    assert "Scanning seen" not in out


def test_a_recipient_option_adds_a_reader(group: SealedGroup) -> None:
    code, out = _run(
        "say", "notify", "--to", "redland", "--purpose", "notification",
        "--title", "Shared with Greenland too", "--summary", "Three readers",
        "--id", "cli-three", "--recipient", "greenland",
        "--node", _node(group, "blueland"),
    )  # fmt: skip
    assert code == 0, out
    assert "encrypted to blueland, greenland, redland" in out
    _run("node", "sync", "--node", _node(group, "greenland"))
    code, out = _run("show", "incident", "cli-three", "--node", _node(group, "greenland"))
    assert code == 0, out
    assert "Shared with Greenland too" in out


def test_reshare_refusals_are_clear_errors(group: SealedGroup) -> None:
    code, out = _run(
        "say", "reshare", "1", "--to", "greenland", "--tlp", "AMBER",
        "--node", _node(group, "redland"),
    )  # fmt: skip
    assert code != 0
    assert "only intel.share can be re-shared; entry 1 is a incident.notify" in out
    blue = group.nodes["blueland"]
    bundle = group.root / "bundle.json"
    bundle.write_bytes(b'{"type": "bundle", "id": "bundle--cli", "objects": []}')
    state = blue.state()
    keys = [Recipient(state.parties[p].encryption_key) for p in ("blueland", "redland")]
    sealed = seal_file(bundle, group.root / "bundle.age", keys)
    blue.blobs.upload(group.root / "bundle.age", sealed.ref)
    share = IntelShare(
        blob=sealed.ref.sha256,
        size=sealed.ref.size,
        media_type="application/stix+json;version=2.1",
        title="Indicators for Redland",
        to=("redland",),
    )
    index = blue.say("intel.share", share, tlp=Tlp.AMBER, pap=None).index
    code, out = _run(
        "say", "reshare", str(index), "--to", "greenland", "--tlp", "AMBER",
        "--node", _node(group, "redland"),
    )  # fmt: skip
    assert code != 0
    assert "its marking excludes greenland" in out
    assert "nothing was sent" in out
    code, out = _run(
        "say", "reshare", str(index), "--to", "blueland", "--tlp", "RED",
        "--node", _node(group, "redland"),
    )  # fmt: skip
    assert code == 0, out
    assert "encrypted to blueland, redland" in out


def test_rotate_keys_from_the_command_line(group: SealedGroup) -> None:
    before = load_identities(group.root / "greenland" / IDENTITY_FILE)
    code, out = _run("node", "rotate-keys", "--node", _node(group, "greenland"))
    assert code == 0, out
    assert "keys of greenland rotated" in out
    after = load_identities(group.root / "greenland" / IDENTITY_FILE)
    assert len(after) == len(before) + 1
    assert str(after[-1].recipient) in out
    # The node keeps working with its new signing key.
    code, out = _run("node", "sync", "--node", _node(group, "greenland"))
    assert code == 0, out


def test_notify_with_evidence_uploads_it_and_the_addressee_fetches_it(
    group: SealedGroup,
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    capture = group.root / "beacon.pcap"
    capture.write_bytes(data)
    code, out = _run(
        "say", "notify", "--to", "redland", "--purpose", "notification",
        "--title", "Beaconing", "--summary", "Capture attached",
        "--id", "cli-evidence", "--evidence", str(capture),
        "--node", _node(group, "blueland"),
    )  # fmt: skip
    assert code == 0, out
    assert "evidence beacon.pcap (3145728 bytes) encrypted to blueland, redland" in out
    assert "encrypted to blueland, redland" in out
    _run("node", "sync", "--node", _node(group, "redland"))
    code, out = _run("show", "incident", "cli-evidence", "--node", _node(group, "redland"))
    assert code == 0, out
    digest = hashlib.sha256(data).hexdigest()
    assert f"beacon.pcap (application/vnd.tcpdump.pcap, 3145728 bytes) sha256 {digest[:16]}" in out
    assert "on the hub" in out
    fetched = group.root / "fetched"
    code, out = _run(
        "evidence", "get", "cli-evidence", "beacon.pcap", "--out", str(fetched),
        "--node", _node(group, "redland"),
    )  # fmt: skip
    assert code == 0, out
    assert "verified; written to" in out
    assert (fetched / "beacon.pcap").read_bytes() == data
    kept = group.root / "redland" / "evidence" / f"{digest[:16]}-beacon.pcap"
    assert kept.read_bytes() == data
    # The outsider cannot read the evidence list, let alone the file.
    code, out = _run("evidence", "get", "cli-evidence", "--node", _node(group, "greenland"))
    assert code != 0
    assert "greenland cannot read its evidence" in out
    code, out = _run("evidence", "get", "cli-evidence", "nothing.txt",
                     "--node", _node(group, "redland"))  # fmt: skip
    assert code != 0
    assert "no evidence named 'nothing.txt'" in out


def test_a_refused_incident_uploads_none_of_its_evidence(group: SealedGroup) -> None:
    capture = group.root / "refused.pcap"
    capture.write_bytes(os.urandom(64 * 1024))
    before = sorted(group.hub_blobs())
    code, out = _run(
        "say", "notify", "--to", "redland", "--purpose", "notification",
        "--title", "Beaconing", "--summary", "Capture attached", "--norm", "NO-SUCH-NORM-1",
        "--id", "cli-refused", "--evidence", str(capture),
        "--node", _node(group, "blueland"),
    )  # fmt: skip
    assert code == 1, out
    assert "unknown-norm" in out or "unknown norm" in out
    assert "nothing was sent" in out
    assert sorted(group.hub_blobs()) == before
    outgoing = group.root / "blueland" / "blobs" / "outgoing"
    assert not outgoing.exists() or not any(outgoing.iterdir())

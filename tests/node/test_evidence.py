"""Evidence files through a real hub process and three real member nodes: attached (sealed to
the incident's readers, uploaded), fetched (hash checked, decrypted, plaintext hash checked),
refused when the author lied or the node is no reader, and served by the web UI to readers."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from detente.errors import NotFoundError, RejectedError, VerificationError
from detente.node.api import create_node_app
from detente.node.evidence import (
    KEEP_UNSENT,
    attach_evidence,
    fetch_evidence,
    incident_readers,
    seal_evidence,
    upload_evidence,
)
from detente.node.instance import Node
from detente.serving import BackgroundServer
from detente.statements.kinds import Evidence, IncidentNotify, Purpose, Severity, Tlp
from node.sealedgroup import SealedGroup, sealed_group

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealedGroup]:
    with sealed_group(tmp_path_factory.mktemp("evidence")) as running:
        yield running


def _file(group: SealedGroup, name: str, size: int = 3 * MIB) -> Path:
    path = group.root / name
    path.write_bytes(os.urandom(size))
    return path


def _notify(incident: str, evidence: tuple[Evidence, ...]) -> IncidentNotify:
    return IncidentNotify(
        id=incident,
        purpose=Purpose.NOTIFICATION,
        to=("redland",),
        title="Beaconing from the print server",
        summary="Packet captures attached.",
        severity=Severity.MEDIUM,
        norms=(),
        evidence=evidence,
    )


def _attach(group: SealedGroup, path: Path, tlp: Tlp = Tlp.AMBER) -> Evidence:
    blue = group.nodes["blueland"]
    readers = incident_readers(blue.state(), "blueland", ("redland",), tlp=tlp)
    return attach_evidence(blue, path, readers)


def _evidence_files(node: Node) -> list[Path]:
    """Every file the node keeps under evidence/ and blobs/ (nothing half-fetched stays)."""
    roots = [node.directory.path / "evidence", node.directory.path / "blobs"]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_sealed_evidence_waits_on_the_node_until_uploaded(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    path = _file(group, "sealed-later.bin", 200_000)
    readers = incident_readers(blue.state(), "blueland", ("redland",), tlp=Tlp.AMBER)
    first = seal_evidence(blue, path, readers)
    assert seal_evidence(blue, path, readers) == first  # the kept ciphertext, not a new one
    assert first.blob is not None
    hub = blue.blob_client()
    with pytest.raises(NotFoundError):
        hub.stat(first.blob)  # nothing reached the hub
    other = Evidence(sha256=bytes(32), name="x", media_type="text/plain", size=1, blob=bytes(32))
    with pytest.raises(NotFoundError, match="attach the file again"):
        upload_evidence(blue, [first, other])  # not kept here, and not on the hub
    with pytest.raises(NotFoundError):
        hub.stat(first.blob)  # refused whole: nothing uploaded
    assert upload_evidence(blue, [first]) == 1
    assert hub.stat(first.blob).size > 200_000
    assert not any((blue.directory.path / "blobs" / "outgoing").glob("evidence-*"))
    assert upload_evidence(blue, [first]) == 0  # done once


def test_ciphertext_never_uploaded_is_removed_after_a_week(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    readers = incident_readers(blue.state(), "blueland", ("redland",), tlp=Tlp.AMBER)
    outgoing = blue.directory.path / "blobs" / "outgoing"
    old = seal_evidence(blue, _file(group, "abandoned.bin", 10_000), readers)
    again = seal_evidence(blue, _file(group, "again.bin", 10_000), readers)
    (outgoing / "evidence-cut-short.0123.sealing").write_bytes(b"age-encryption.org/v1\n")
    stale = time.time() - KEEP_UNSENT - 60
    for leftover in outgoing.glob("evidence-*"):
        os.utime(leftover, (stale, stale))
    # Sealing "again.bin" again takes its kept ciphertext (and restarts its week); everything
    # else older than a week goes, a seal cut short included.
    assert seal_evidence(blue, group.root / "again.bin", readers) == again
    left = sorted(p.name for p in outgoing.glob("evidence-*"))
    assert len(left) == 2
    assert all((again.blob or b"").hex() in name for name in left)
    assert upload_evidence(blue, [again]) == 1
    with pytest.raises(NotFoundError, match="attach the file again"):
        upload_evidence(blue, [old])  # gone: the statement naming it is refused before it is said


def test_one_file_sealed_twice_at_once_keeps_two_whole_ciphertexts(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    readers = incident_readers(blue.state(), "blueland", ("redland",), tlp=Tlp.AMBER)
    path = _file(group, "double-click.bin", 2 * MIB)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: seal_evidence(blue, path, readers), range(2)))
    assert upload_evidence(blue, results) == len({r.blob for r in results})
    hub = blue.blob_client()
    for result in results:
        assert result.blob is not None
        assert hub.stat(result.blob).size > 2 * MIB


def test_readers_are_the_sealed_recipients_or_every_member(group: SealedGroup) -> None:
    state = group.nodes["blueland"].state()
    assert incident_readers(state, "blueland", ("redland",), tlp=Tlp.AMBER) == (
        "blueland",
        "redland",
    )
    assert incident_readers(
        state, "blueland", ("redland",), tlp=Tlp.GREEN, recipients=("greenland",)
    ) == ("blueland", "greenland", "redland")
    assert incident_readers(state, "blueland", ("redland",), tlp=Tlp.GREEN) == (
        "blueland",
        "greenland",
        "redland",
    )
    with pytest.raises(RejectedError) as refused:
        attach_evidence(group.nodes["blueland"], group.root, ("nobody",))
    assert refused.value.rule == "unknown-recipient"


def test_unsealed_evidence_is_sealed_to_every_member_and_each_can_fetch_it(
    group: SealedGroup,
) -> None:
    path = _file(group, "capture.pcap")
    proof = _attach(group, path, Tlp.GREEN)
    assert proof.sha256 == hashlib.sha256(path.read_bytes()).digest()
    assert proof.media_type == "application/vnd.tcpdump.pcap"
    said = group.nodes["blueland"].say(
        "incident.notify", _notify("clear-evidence", (proof,)), tlp=Tlp.GREEN, pap=None
    )
    logged = said.signed.statement.body
    assert isinstance(logged, IncidentNotify)
    assert logged.evidence == (proof,)  # readable: the blob is named in the clear
    for party in ("redland", "greenland"):
        node = group.nodes[party]
        node.sync()
        fetched = fetch_evidence(node, proof)
        assert fetched.read_bytes() == path.read_bytes()
        assert fetched.name.endswith("-capture.pcap")
        assert fetch_evidence(node, proof) == fetched  # held now: not fetched again


def test_a_blob_whose_plaintext_is_not_the_referenced_file_is_refused(group: SealedGroup) -> None:
    sent = _attach(group, _file(group, "sent.bin"))
    assert sent.blob is not None
    other = os.urandom(sent.size)
    lies = [
        Evidence(sha256=hashlib.sha256(other).digest(), name="told.bin",
                 media_type="application/octet-stream", size=sent.size, blob=sent.blob),
        Evidence(sha256=sent.sha256, name="told.bin", media_type="application/octet-stream",
                 size=sent.size + 1, blob=sent.blob),
    ]  # fmt: skip
    red = group.nodes["redland"]
    before = _evidence_files(red)
    for lie in lies:
        with pytest.raises(VerificationError) as refused:
            fetch_evidence(red, lie)
        message = str(refused.value)
        assert "does not verify" in message
        assert lie.sha256.hex() in message
        assert f"{lie.size} bytes" in message
        assert _evidence_files(red) == before  # nothing kept, nothing half-fetched left
    assert fetch_evidence(red, sent).read_bytes() == (group.root / "sent.bin").read_bytes()


def test_a_node_that_is_no_reader_cannot_fetch_the_evidence(group: SealedGroup) -> None:
    proof = _attach(group, _file(group, "for-red-only.bin"))
    green = group.nodes["greenland"]
    before = _evidence_files(green)
    with pytest.raises(VerificationError) as refused:
        fetch_evidence(green, proof)
    assert "no matching key" in str(refused.value)
    assert _evidence_files(green) == before
    out_of_band = proof.model_copy(update={"blob": None})
    with pytest.raises(NotFoundError) as missing:
        fetch_evidence(group.nodes["redland"], out_of_band)
    assert "out of band" in str(missing.value)


def test_the_hub_refuses_unsealed_evidence_naming_a_blob_it_lacks(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    size = group.hub_size()
    path = _file(group, "never-uploaded.bin", 1000)
    missing = Evidence(
        sha256=hashlib.sha256(path.read_bytes()).digest(),
        name="never-uploaded.bin",
        media_type="application/octet-stream",
        size=1000,
        blob=hashlib.sha256(b"no such ciphertext").digest(),
    )
    with pytest.raises(RejectedError) as refused:
        blue.say("incident.notify", _notify("missing-blob", (missing,)), tlp=Tlp.GREEN, pap=None)
    assert refused.value.rule == "blob-missing"
    assert missing.blob is not None
    assert missing.blob.hex() in str(refused.value)
    assert group.hub_size() == size
    # Sealed, the list is inside the ciphertext: the hub cannot check it; the readers do.
    said = blue.say("incident.notify", _notify("sealed-missing", (missing,)), tlp=Tlp.AMBER,
                    pap=None)  # fmt: skip
    assert said.index == size
    with pytest.raises(NotFoundError):
        fetch_evidence(group.nodes["redland"], missing)


def _login(server: BackgroundServer, node: Node) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=60)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post("/login", data={"csrf": csrf.group(1), "token": node.api_token})
    assert answer.status_code == 303
    return client


def test_the_web_ui_serves_evidence_to_readers_only(group: SealedGroup) -> None:
    path = _file(group, "web-capture.bin", 2 * MIB)
    proof = _attach(group, path)
    held = Evidence(sha256=hashlib.sha256(b"kept elsewhere").digest(), name="paper.txt",
                    media_type="text/plain", size=14)  # fmt: skip
    group.nodes["blueland"].say(
        "incident.notify", _notify("web-evidence", (proof, held)), tlp=Tlp.AMBER, pap=None
    )
    red, green = group.nodes["redland"], group.nodes["greenland"]
    red.sync()
    green.sync()
    before = _evidence_files(green)
    link = f"/evidence/{proof.sha256.hex()}"
    query = {"incident": "web-evidence"}
    with (
        BackgroundServer(create_node_app(red)) as red_server,
        BackgroundServer(create_node_app(green)) as green_server,
    ):
        reader = _login(red_server, red)
        page = reader.get("/incidents/web-evidence").text
        assert f"{link}?incident=web-evidence" in page
        assert "held out of band" in page  # the second file never went to the hub
        download = reader.get(link, params=query)
        assert download.status_code == 200
        assert download.content == path.read_bytes()
        assert 'filename="web-capture.bin"' in download.headers["content-disposition"]
        assert reader.get(f"/evidence/{held.sha256.hex()}", params=query).status_code == 404
        reader.close()

        outsider = _login(green_server, green)
        assert link not in outsider.get("/incidents/web-evidence").text
        refused = outsider.get(link, params=query)
        assert refused.status_code == 403
        assert "only the readers of incident web-evidence (blueland, redland)" in refused.text
        outsider.close()
    assert _evidence_files(green) == before

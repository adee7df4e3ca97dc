"""Sealed statements and evidence through a real hub process and three real member nodes.

The canary test: confidential statements and a large evidence blob carry a unique string;
afterwards it is nowhere in the hub's files, in what the hub serves or in what it logged; it is
readable on both recipient nodes and on no other node.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from detente.crypto.age import IDENTITY_FILE, Recipient, load_identities
from detente.crypto.blob import BlobRef
from detente.errors import VerificationError
from detente.node.api import create_node_app
from detente.node.blobs import open_blob
from detente.node.confidential import decrypt, download_bytes, encrypt
from detente.node.evidence import attach_evidence, fetch_evidence, incident_readers
from detente.node.instance import open_node
from detente.node.keys import NEXT_KEY_FILE, rotate_keys
from detente.node.vault import OpenStatus
from detente.serving import BackgroundServer
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import (
    IncidentNotify,
    IncidentRespond,
    Purpose,
    Response,
    SealableBody,
    Sealed,
    Severity,
    Tlp,
)
from detente.statements.sealing import plaintext, public_body
from node.sealedgroup import SealedGroup, sealed_group

CHUNK = 1024 * 1024


def _notify(incident: str, to: tuple[str, ...], secret: str, **extra: object) -> IncidentNotify:
    fields: dict[str, object] = {
        "id": incident,
        "purpose": Purpose.NOTIFICATION,
        "to": to,
        "title": f"Intrusion {secret}",
        "summary": f"What happened, in words only the recipients read: {secret}",
        "severity": Severity.HIGH,
        "norms": (),
        "evidence": (),
        **extra,
    }
    return IncidentNotify.model_validate(fields)


def _post(group: SealedGroup, entry: bytes) -> httpx.Response:
    return httpx.post(
        f"{group.hub_url}/v1/statements",
        content=entry,
        headers={"Content-Type": PAYLOAD_TYPE},
        timeout=30,
    )


def _files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def _contains(path: Path, needle: bytes) -> bool:
    """Whether ``path`` holds ``needle``, read in overlapping pieces (files may be large)."""
    tail = b""
    with path.open("rb") as f:
        while piece := f.read(CHUNK):
            if needle in tail + piece:
                return True
            tail = piece[-len(needle) :]
    return False


def test_the_canary_is_nowhere_but_on_the_recipients_nodes(tmp_path: Path) -> None:
    canary = f"CANARY-{secrets.token_hex(12)}"
    needle = canary.encode()
    with sealed_group(tmp_path) as group:
        blue, red, green = (group.nodes[p] for p in ("blueland", "redland", "greenland"))
        # A large evidence file with the canary throughout, sealed to Blueland and Redland.
        evidence = tmp_path / f"timeline-{canary}.bin"
        with evidence.open("wb") as f:
            for _ in range(12):  # more than one 8 MiB upload chunk
                f.write(needle + b"\n" + os.urandom(CHUNK))
        readers = incident_readers(blue.state(), "blueland", ("redland",), tlp=Tlp.AMBER)
        assert readers == ("blueland", "redland")
        proof = attach_evidence(blue, evidence, readers)
        assert proof.sha256 == _sha256(evidence)  # the file's own hash, not the ciphertext's
        assert proof.size == evidence.stat().st_size
        assert proof.blob is not None
        assert proof.name == evidence.name
        assert not any((tmp_path / "blueland" / "blobs" / "outgoing").iterdir())
        notice = _notify("canary-incident", ("redland",), canary, evidence=(proof,))
        said = blue.say("incident.notify", notice, tlp=Tlp.AMBER, pap=None)
        body = said.signed.statement.body
        assert isinstance(body, IncidentNotify)
        assert body.sealed is not None
        assert body.sealed.recipients == ("blueland", "redland")
        assert body.title is None
        assert body.summary is None
        assert body.evidence is None
        red.sync()
        answer = IncidentRespond(
            incident="canary-incident", response=Response.DENY, text=f"We deny it: {canary}"
        )
        reply = red.say("incident.respond", answer, tlp=Tlp.AMBER, pap=None)
        group.sync_all()

        # Readable on both recipients' nodes, and only by their owners: a node's directory
        # (its database of opened bodies, its evidence folder) is 0700.
        for node in (blue, red):
            assert stat.S_IMODE(node.directory.path.stat().st_mode) == 0o700
        for node in (blue, red):
            opened = node.opened(said.index)
            assert isinstance(opened, IncidentNotify)
            assert opened.title == f"Intrusion {canary}"
            assert opened.evidence == (proof,)
            opened_reply = node.opened(reply.index)
            assert isinstance(opened_reply, IncidentRespond)
            assert canary in (opened_reply.text or "")
        # The node's JSON API gives the opened bodies to the member's own people.
        with BackgroundServer(create_node_app(red)) as server:
            auth = {"Authorization": f"Bearer {red.api_token}"}
            api = httpx.Client(base_url=server.url, headers=auth, timeout=30)
            logged = api.get("/api/log", params={"start": said.index}).json()
            assert logged["entries"][0]["opened"]["title"] == f"Intrusion {canary}"
            assert "title" not in logged["entries"][0]["body"]
            assert canary in api.get("/api/opened").text
            api.close()
        for node in (red, blue):
            path = fetch_evidence(node, proof)
            assert path.parent == node.directory.path / "evidence"
            assert _sha256(path) == proof.sha256
            assert _contains(path, needle)

        # Not on the outsider's node, and it cannot open anything.
        assert green.opened(said.index) is None
        assert green.opened(reply.index) is None
        assert green.revealed() == {}
        with pytest.raises(VerificationError):
            fetch_evidence(green, proof)
        fetched = tmp_path / "fetched.age"
        green.blobs.download(BlobRef(proof.blob, green.blobs.stat(proof.blob).size), fetched)
        with pytest.raises(VerificationError):
            open_blob(fetched, tmp_path / "nope.bin", green.identities())
        assert not (tmp_path / "nope.bin").exists()
        sealed = body.sealed
        with pytest.raises(VerificationError):
            decrypt(download_bytes(green.blobs, sealed), green.identities())
        for path in _files_under(tmp_path / "greenland"):
            assert not _contains(path, needle), path

        # Nowhere on the hub: its files (database, WAL, blobs, tiles), what it serves, its log.
        hub_files = list(_files_under(group.hub_dir))
        assert any(p.name.endswith("-wal") or p.suffix == ".db" for p in hub_files)
        assert len(group.hub_blobs()) == 3  # the evidence, the allegation, the answer
        for path in hub_files:
            assert not _contains(path, needle), path
        assert group.hub_log.stat().st_size > 0
        assert not _contains(group.hub_log, needle)
        token = {"Authorization": f"Bearer {group.token('greenland')}"}
        size = group.hub_size()
        with httpx.Client(base_url=group.hub_url, headers=token, timeout=30) as http:
            served = [
                http.get(f"/v1/entries?start=0&end={size}"),
                http.get(f"/log/tile/entries/000.p/{size}"),
                http.get(f"/log/tile/0/000.p/{size}"),
                http.get("/log/checkpoint"),
                http.get("/v1/incidents"),
                http.get("/v1/incidents/canary-incident"),
            ]
            for blob in group.hub_blobs():
                served.append(http.get(f"/v1/blobs/{blob.parent.name}{blob.name}"))
        for response in served:
            assert response.status_code == 200, response.text
            assert needle not in response.content
        # The nodes' copies of the log hold the public bodies only.
        for node in (blue, red, green):
            assert all(needle not in e for e in node.store.read_entries(0, size))


def test_key_rotation_keeps_old_content_readable_and_seals_new_content_to_new_keys(
    tmp_path: Path,
) -> None:
    with sealed_group(tmp_path) as group:
        blue, red = group.nodes["blueland"], group.nodes["redland"]
        before = blue.say(
            "incident.notify", _notify("before", ("redland",), "old key"), tlp=Tlp.AMBER, pap=None
        )
        red.sync()
        old_identities = red.identities()
        assert len(old_identities) == 1
        old_key = red.state().parties["redland"].signing_key

        done = rotate_keys(red)
        state = red.state()
        assert state.parties["redland"].encryption_key == done.encryption_key
        assert state.parties["redland"].signing_key == done.signing_key != old_key
        identities = load_identities(tmp_path / "redland" / IDENTITY_FILE)
        assert [str(i.recipient) for i in identities[:1]] == [
            str(i.recipient) for i in old_identities
        ]
        assert str(identities[-1].recipient) == done.encryption_key

        # Old content: still readable with the identities the node keeps (the old one).
        old_sealed = _sealed(before.signed.statement.body)
        old_ciphertext = download_bytes(red.blobs, old_sealed)
        assert b"old key" in decrypt(old_ciphertext, identities)
        with pytest.raises(VerificationError):
            decrypt(old_ciphertext, identities[-1:])

        # New content: sealed to the new key only.
        blue.sync()
        after = blue.say(
            "incident.notify", _notify("after", ("redland",), "new key"), tlp=Tlp.AMBER, pap=None
        )
        new_ciphertext = download_bytes(red.blobs, _sealed(after.signed.statement.body))
        with pytest.raises(VerificationError):
            decrypt(new_ciphertext, old_identities)
        assert b"new key" in decrypt(new_ciphertext, identities[-1:])
        red.sync()
        opened = red.opened(after.index)
        assert isinstance(opened, IncidentNotify)
        assert opened.title == "Intrusion new key"
        assert isinstance(red.opened(before.index), IncidentNotify)

        # The node signs with its new key, also once opened again from its directory.
        answer = IncidentRespond(incident="after", response=Response.ACKNOWLEDGE, text="seen")
        red.say("incident.respond", answer, tlp=Tlp.AMBER, pap=None)
        assert not (tmp_path / "redland" / NEXT_KEY_FILE).exists()
        with open_node(tmp_path / "redland") as reopened:
            reopened.sync()
            assert reopened.speaker.key.public_key().public_bytes_raw() == done.signing_key
            assert isinstance(reopened.opened(before.index), IncidentNotify)
            again = IncidentRespond(incident="after", response=Response.ANSWER, text="more")
            said = reopened.say("incident.respond", again, tlp=Tlp.AMBER, pap=None)
            assert said.receipt is not None


def _sealed(body: object) -> Sealed:
    assert isinstance(body, SealableBody)
    assert body.sealed is not None
    return body.sealed


def test_a_plaintext_that_lies_about_a_readable_field_is_marked_invalid(tmp_path: Path) -> None:
    with sealed_group(tmp_path) as group:
        blue, red = group.nodes["blueland"], group.nodes["redland"]
        state = blue.state()
        told = _notify("lie", ("redland",), "told", severity=Severity.LOW)
        logged = _notify("lie", ("redland",), "told", severity=Severity.HIGH)
        keys = [Recipient(state.parties[p].encryption_key) for p in ("blueland", "redland")]
        ciphertext = encrypt(plaintext(told), keys)
        sealed = Sealed(
            blob=hashlib.sha256(ciphertext).digest(),
            size=len(ciphertext),
            recipients=("blueland", "redland"),
        )
        blue.blobs.upload(_write(tmp_path / "lie.age", ciphertext), _ref(ciphertext))
        statement = blue.speaker.compose(
            "incident.notify", public_body(logged, sealed), tlp=Tlp.AMBER
        )
        said = blue.speaker.submit(blue.speaker.sign(statement))
        report = red.sync()
        invalid = report["sealed"]["invalid"]
        assert list(invalid) == [str(said.index)]
        assert "severity" in invalid[str(said.index)]
        assert "blueland" in invalid[str(said.index)]
        row = red.vault.get(said.index)
        assert row is not None
        assert row.status is OpenStatus.INVALID
        assert row.plaintext is None
        assert red.opened(said.index) is None
        # Settled: the next sync does not fetch it again, nor report it as new.
        assert red.sync()["sealed"]["invalid"] == {}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(CHUNK):
            digest.update(piece)
    return digest.digest()


def _ref(data: bytes) -> BlobRef:
    return BlobRef(hashlib.sha256(data).digest(), len(data))

"""TLP markings refused fail-closed, through the node and through the hub, nothing stored.

Each refusal leaves the hub's log size unchanged; a refusal the node catches before the
upload leaves no blob on the hub either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Final

import httpx
import pytest

from detente.crypto.age import Recipient
from detente.errors import DetenteError, RejectedError
from detente.node.blobs import open_blob, seal_file
from detente.node.confidential import upload_bytes
from detente.node.instance import Node
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import (
    ContactRole,
    IncidentNotify,
    IntelShare,
    Ping,
    Purpose,
    Severity,
    Tlp,
)
from node.sealedgroup import SealedGroup, sealed_group

STIX: Final = "application/stix+json;version=2.1"


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealedGroup]:
    with sealed_group(tmp_path_factory.mktemp("markings")) as running:
        yield running


def _post(group: SealedGroup, entry: bytes) -> httpx.Response:
    return httpx.post(
        f"{group.hub_url}/v1/statements",
        content=entry,
        headers={"Content-Type": PAYLOAD_TYPE},
        timeout=30,
    )


def _notify(incident: str, tlp_note: str = "") -> IncidentNotify:
    return IncidentNotify(
        id=incident,
        purpose=Purpose.NOTIFICATION,
        to=("redland",),
        title=f"Scanning of our ministries {tlp_note}",
        summary="Details for the addressee only.",
        severity=Severity.MEDIUM,
        norms=(),
        evidence=(),
    )


def _share(
    group: SealedGroup, node: Node, to: tuple[str, ...], tlp: Tlp, name: str
) -> tuple[int, bytes]:
    """``node`` shares a STIX bundle with ``to`` at ``tlp``; its index and the bundle."""
    bundle = json.dumps({"type": "bundle", "id": f"bundle--{name}", "objects": []}).encode()
    plain = group.root / f"{name}.json"
    plain.write_bytes(bundle)
    state = node.state()
    readers = sorted({node.party, *to}) if to else sorted(state.parties)
    keys = [Recipient(state.parties[p].encryption_key) for p in readers]
    sealed = seal_file(plain, group.root / f"{name}.age", keys)
    node.blobs.upload(group.root / f"{name}.age", sealed.ref)
    body = IntelShare(
        blob=sealed.ref.sha256, size=sealed.ref.size, media_type=STIX, title=name, to=to
    )
    said = node.say("intel.share", body, tlp=tlp, pap=None)
    return said.index, bundle


class _Unchanged:
    """Asserts the hub's log and blob store are as they were."""

    def __init__(self, group: SealedGroup) -> None:
        self.group = group
        self.size = group.hub_size()
        self.blobs = group.hub_blobs()

    def check(self, *, blobs: bool = True) -> None:
        assert self.group.hub_size() == self.size
        if blobs:
            assert self.group.hub_blobs() == self.blobs


@pytest.mark.parametrize("tlp", [Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED])
def test_unencrypted_confidential_content_is_refused_by_the_hub(
    group: SealedGroup, tlp: Tlp
) -> None:
    blue = group.nodes["blueland"]
    before = _Unchanged(group)
    statement = blue.speaker.compose("incident.notify", _notify(f"clear-{len(tlp)}"), tlp=tlp)
    answer = _post(group, blue.speaker.sign(statement).entry)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["rule"] == "not-encrypted"
    assert "must be encrypted" in problem["detail"]
    before.check()


def test_a_governance_kind_above_green_is_refused_by_the_node_before_sending(
    group: SealedGroup,
) -> None:
    blue = group.nodes["blueland"]
    before = _Unchanged(group)
    ping = Ping(id="ping-amber", to=("redland",), role=ContactRole.TECHNICAL,
                reply_within_minutes=60)  # fmt: skip
    with pytest.raises(RejectedError) as refused:
        blue.say("ping", ping, tlp=Tlp.AMBER, pap=None)
    assert refused.value.rule == "not-encrypted"
    assert "cannot be TLP:AMBER" in str(refused.value)
    # And the hub refuses the same statement sent by hand.
    statement = blue.speaker.compose("ping", ping, tlp=Tlp.AMBER)
    answer = _post(group, blue.speaker.sign(statement).entry)
    assert (answer.status_code, answer.json()["rule"]) == (422, "not-encrypted")
    before.check()


def test_sealed_amber_is_accepted_and_opened_by_its_recipients(group: SealedGroup) -> None:
    blue, red, green = (group.nodes[p] for p in ("blueland", "redland", "greenland"))
    said = blue.say("incident.notify", _notify("sealed-ok"), tlp=Tlp.AMBER, pap=None)
    group.sync_all()
    opened = red.opened(said.index)
    assert isinstance(opened, IncidentNotify)
    assert opened.summary == "Details for the addressee only."
    assert blue.opened(said.index) == opened
    assert green.opened(said.index) is None


def test_red_intel_for_the_whole_group_is_refused_before_any_upload(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    before = _Unchanged(group)
    body = IntelShare(
        blob=hashlib.sha256(b"never uploaded").digest(),
        size=100,
        media_type=STIX,
        title="Indicators",
        to=(),
    )
    with pytest.raises(RejectedError) as refused:
        blue.say("intel.share", body, tlp=Tlp.RED, pap=None)
    assert refused.value.rule == "red-needs-recipients"
    assert "nothing was sent" in str(refused.value)
    before.check()
    # Sent by hand (its sealed title uploaded first), the hub refuses it with the same rule.
    signed, ciphertext = blue.speaker.prepare("intel.share", body, tlp=Tlp.RED)
    assert ciphertext is not None
    upload_bytes(blue.blobs, ciphertext)
    answer = _post(group, signed.entry)
    assert (answer.status_code, answer.json()["rule"]) == (422, "red-needs-recipients")
    before.check(blobs=False)


def test_a_sealed_statement_whose_blob_the_hub_lacks_is_refused(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    before = _Unchanged(group)
    signed, ciphertext = blue.speaker.prepare("incident.notify", _notify("no-blob"), tlp=Tlp.AMBER)
    assert ciphertext is not None
    answer = _post(group, signed.entry)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["rule"] == "blob-missing"
    assert hashlib.sha256(ciphertext).hexdigest() in problem["detail"]
    before.check()
    # In a batch, the problem names its position.
    batch = httpx.post(
        f"{group.hub_url}/v1/statements/batch",
        content=b"[" + signed.entry + b"]",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert (batch.status_code, batch.json()["rule"], batch.json()["position"]) == (
        422,
        "blob-missing",
        0,
    )
    before.check()


def test_a_blob_that_is_not_age_ciphertext_is_refused(group: SealedGroup) -> None:
    blue = group.nodes["blueland"]
    before = _Unchanged(group)
    plain = group.root / "plain.txt"
    plain.write_bytes(b"evidence nobody encrypted\n" * 1000)
    from detente.crypto.blob import BlobRef

    ref = BlobRef(hashlib.sha256(plain.read_bytes()).digest(), plain.stat().st_size)
    with pytest.raises(DetenteError, match="not age v1 ciphertext"):
        blue.blobs.upload(plain, ref)
    with pytest.raises(RejectedError, match="only age ciphertext"):
        upload_bytes(blue.blobs, plain.read_bytes())
    before.check()


def test_reshare_refusals_come_before_anything_is_sent(group: SealedGroup) -> None:
    blue, red, green = (group.nodes[p] for p in ("blueland", "redland", "greenland"))
    index, _ = _share(group, blue, ("redland",), Tlp.AMBER, "amber-intel")
    group.sync_all()
    assert isinstance(red.opened(index), IntelShare)
    before = _Unchanged(group)
    cases = [
        (red, ["greenland"], Tlp.AMBER, "reshare-excluded", "excludes greenland"),
        (red, [], Tlp.AMBER, "reshare-excluded", "whole group"),
        (red, ["blueland"], Tlp.GREEN, "tlp-lowered", "cannot lower it"),
        (green, ["redland"], Tlp.AMBER, "not-a-recipient", "greenland was not given"),
    ]
    for node, to, tlp, rule, words in cases:
        with pytest.raises(RejectedError) as refused:
            node.reshare(index, to, tlp)
        assert refused.value.rule == rule
        assert words in str(refused.value)
        assert "nothing was sent" in str(refused.value)
    before.check()
    # The hub refuses the same re-share sent by hand.
    forged = IntelShare(
        blob=hashlib.sha256(b"x").digest(),
        size=10,
        media_type=STIX,
        title="forwarded",
        to=("greenland",),
        derived_from=index,
    )
    signed, ciphertext = red.speaker.prepare("intel.share", forged, tlp=Tlp.AMBER)
    assert ciphertext is not None
    upload_bytes(red.blobs, ciphertext)
    answer = _post(group, signed.entry)
    assert (answer.status_code, answer.json()["rule"]) == (422, "reshare-excluded")
    before.check(blobs=False)


def test_a_reshare_within_the_marking_is_re_encrypted_to_the_new_readers(
    group: SealedGroup,
) -> None:
    blue, red = group.nodes["blueland"], group.nodes["redland"]
    index, bundle = _share(group, blue, ("redland",), Tlp.AMBER, "to-reshare")
    group.sync_all()
    said = red.reshare(index, ["blueland"], Tlp.RED)
    share = said.signed.statement.body
    assert isinstance(share, IntelShare)
    assert share.derived_from == index
    assert share.sealed is not None
    assert share.sealed.recipients == ("blueland", "redland")
    assert said.signed.statement.tlp is Tlp.RED
    blue.sync()
    opened = blue.opened(said.index)
    assert isinstance(opened, IntelShare)
    assert opened.title == "to-reshare"
    # The re-encrypted bundle opens for the new reader.
    from detente.crypto.blob import BlobRef

    fetched = group.root / "reshared.age"
    blue.blobs.download(BlobRef(share.blob, share.size), fetched)
    open_blob(fetched, group.root / "reshared.json", blue.identities())
    assert (group.root / "reshared.json").read_bytes() == bundle


def test_an_unsealed_green_share_can_be_reshared_more_strictly(group: SealedGroup) -> None:
    blue, red = group.nodes["blueland"], group.nodes["redland"]
    index, _ = _share(group, blue, (), Tlp.GREEN, "green-intel")
    group.sync_all()
    said = red.reshare(index, ["greenland"], Tlp.AMBER)
    share = said.signed.statement.body
    assert isinstance(share, IntelShare)
    assert share.sealed is not None
    assert share.sealed.recipients == ("greenland", "redland")
    group.sync_all()
    opened = group.nodes["greenland"].opened(said.index)
    assert isinstance(opened, IntelShare)
    assert opened.title == "green-intel"
    assert blue.opened(said.index) is None

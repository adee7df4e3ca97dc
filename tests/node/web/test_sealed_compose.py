"""Composing sealed content in the web UI, end to end on the demo (hub, witness, two nodes):
the preview says what is sealed and to whom, signing seals and sends it, both nodes read it."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import httpx
import pytest

from detente.demo import Demo, scenario
from detente.errors import NotFoundError
from detente.statements.kinds import IncidentNotify, Tlp
from detente.statements.payload import parse_statement
from node.web.helpers import Browsers, csrf_of

BLUE, RED = scenario.BLUELAND, scenario.REDLAND
TITLE = "Beaconing from the election commission's print server"
SUMMARY = "A host at the commission beacons every 90 seconds to a server you host."


def _preview(client: httpx.Client, kind: str, data: dict[str, object]) -> httpx.Response:
    form = {"csrf": csrf_of(client.get(f"/compose/{kind}").text), "action": "preview", **data}
    return client.post(f"/compose/{kind}", data=form)


def _text(page: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def _preview_with_file(
    client: httpx.Client, incident: str, file: tuple[str, bytes, str], **fields: str
) -> dict[str, str]:
    """Preview an incident.notify to Redland with one evidence file; the hidden fields its
    sign button posts back (payload, and content when sealed)."""
    form = {"csrf": csrf_of(client.get("/compose/incident.notify").text), "action": "preview",
            "id": incident, "purpose": "notification", "to": RED, "title": TITLE,
            "summary": SUMMARY, "severity": "medium", **fields}  # fmt: skip
    preview = client.post("/compose/incident.notify", data=form, files={"evidence_file": file})
    assert preview.status_code == 200, _text(preview)
    carried = {"csrf": csrf_of(preview.text), "action": "sign"}
    for name in ("payload", "content"):
        found = re.search(rf'name="{name}" value="([^"]+)"', preview.text)
        if found is not None:
            carried[name] = found.group(1)
    assert "payload" in carried
    return carried


def test_an_amber_notification_is_previewed_sealed_then_sealed_and_read_by_both(
    demo: Demo, browsers: Browsers
) -> None:
    blue = browsers.login(BLUE)
    preview = _preview(
        blue,
        "incident.notify",
        {
            "id": "inc-web-sealed",
            "purpose": "request-for-assistance",
            "to": RED,
            "title": TITLE,
            "summary": SUMMARY,
            "severity": "high",
        },  # no tlp: incident.notify defaults to TLP:AMBER
    )
    assert preview.status_code == 200, _text(preview)
    shown = _text(preview)
    assert "will be encrypted to blueland, redland" in shown
    assert "The content that will be encrypted" in shown
    carried = re.search(r'name="payload" value="([^"]+)"', preview.text)
    content = re.search(r'name="content" value="([^"]+)"', preview.text)
    assert carried is not None
    assert content is not None
    public = parse_statement(base64.b64decode(carried.group(1)))
    assert public.tlp is Tlp.AMBER
    assert isinstance(public.body, IncidentNotify)
    assert public.body.title is None
    assert public.body.sealed is not None
    assert public.body.sealed.recipients == (BLUE, RED)
    assert TITLE.encode() not in base64.b64decode(carried.group(1))
    signed = blue.post(
        "/compose/incident.notify",
        data={
            "csrf": csrf_of(preview.text),
            "action": "sign",
            "payload": carried.group(1),
            "content": content.group(1),
        },
    )
    assert signed.status_code == 303, _text(signed)
    index = int(signed.headers["location"].rsplit("said=", 1)[1])
    ((_, entry),) = demo.nodes[BLUE].entries(index, index + 1)
    logged = entry.statement
    assert isinstance(logged.body, IncidentNotify)
    assert logged.body.sealed is not None
    assert logged.body.sealed.recipients == (BLUE, RED)
    assert logged.body.model_copy(update={"sealed": None}) == public.body.model_copy(
        update={"sealed": None}
    )
    assert TITLE.encode() not in entry.entry
    demo.nodes[BLUE].sync()
    page = _text(blue.get("/incidents/inc-web-sealed"))
    assert TITLE in page
    assert "Sealed content, opened by this node" in page
    demo.nodes[RED].sync()
    red_page = _text(browsers.login(RED).get("/incidents/inc-web-sealed"))
    assert TITLE in red_page
    assert SUMMARY in red_page


def test_a_sealed_payload_without_its_content_is_not_signed(demo: Demo, browsers: Browsers) -> None:
    blue = browsers.login(BLUE)
    preview = _preview(
        blue,
        "consultation.request",
        {"id": "consult-web-sealed", "with_parties": RED, "agenda": "Compare samples.",
         "tlp": "RED"},
    )  # fmt: skip
    assert preview.status_code == 200, _text(preview)
    carried = re.search(r'name="payload" value="([^"]+)"', preview.text)
    assert carried is not None
    refused = blue.post(
        "/compose/consultation.request",
        data={"csrf": csrf_of(preview.text), "action": "sign", "payload": carried.group(1)},
    )
    assert refused.status_code == 400
    assert "sealed content is signed from its preview" in _text(refused)
    # Content whose readable fields differ from the previewed statement is refused too.
    other = base64.b64encode(
        b'{"agenda":"Compare samples.","id":"consult-web-sealed","proposed_times":[],'
        b'"with_parties":["blueland"]}'
    ).decode()
    lying = blue.post(
        "/compose/consultation.request",
        data={
            "csrf": csrf_of(preview.text),
            "action": "sign",
            "payload": carried.group(1),
            "content": other,
        },
    )
    assert lying.status_code == 400
    assert "the sealed content says with_parties" in _text(lying)


def test_an_evidence_file_is_sealed_uploaded_and_downloaded_by_the_addressee(
    demo: Demo, browsers: Browsers
) -> None:
    data = b"beacon capture\n" * 70000  # about 1 MiB
    blue = browsers.login(BLUE)
    carried = _preview_with_file(
        blue, "inc-web-evidence", ("beacon capture.txt", data, "text/plain")
    )
    whole = IncidentNotify.model_validate_json(base64.b64decode(carried["content"]))
    (evidence,) = whole.evidence or ()
    assert evidence.sha256 == hashlib.sha256(data).digest()
    assert evidence.name == "beacon-capture.txt"
    assert evidence.blob is not None  # sealed to blueland and redland
    # Until the member signs, the ciphertext stays on the node: the hub learns nothing of a
    # preview that is abandoned, not even the file's size.
    hub_blobs = demo.nodes[BLUE].blob_client()
    with pytest.raises(NotFoundError):
        hub_blobs.stat(evidence.blob)
    outgoing = demo.nodes[BLUE].directory.path / "blobs" / "outgoing"
    assert len(list(outgoing.glob("evidence-*.age"))) == 1
    signed = blue.post("/compose/incident.notify", data=carried)
    assert signed.status_code == 303, _text(signed)
    assert hub_blobs.stat(evidence.blob).size > len(data)  # uploaded when signed
    assert list(outgoing.glob("evidence-*")) == []
    demo.nodes[RED].sync()
    red = browsers.login(RED)
    link = f"/evidence/{evidence.sha256.hex()}"
    assert link in red.get("/incidents/inc-web-evidence").text
    download = red.get(link, params={"incident": "inc-web-evidence"})
    assert download.status_code == 200
    assert download.content == data


def test_a_green_incidents_evidence_is_uploaded_only_when_signed(
    demo: Demo, browsers: Browsers
) -> None:
    """Unsealed (TLP:GREEN): the evidence reference is in the public statement, and its
    ciphertext still reaches the hub only when the member signs."""
    data = b"netflow extract\n" * 4000
    blue = browsers.login(BLUE)
    carried = _preview_with_file(
        blue, "inc-web-green-evidence", ("netflow.txt", data, "text/plain"), tlp="GREEN"
    )
    assert "content" not in carried  # nothing sealed
    statement = parse_statement(base64.b64decode(carried["payload"]))
    assert isinstance(statement.body, IncidentNotify)
    assert statement.tlp is Tlp.GREEN
    (evidence,) = statement.body.evidence or ()
    assert evidence.blob is not None
    hub_blobs = demo.nodes[BLUE].blob_client()
    with pytest.raises(NotFoundError):
        hub_blobs.stat(evidence.blob)
    signed = blue.post("/compose/incident.notify", data=carried)
    assert signed.status_code == 303, _text(signed)
    assert hub_blobs.stat(evidence.blob).size > len(data)
    demo.nodes[RED].sync()
    red = browsers.login(RED)
    download = red.get(
        f"/evidence/{evidence.sha256.hex()}", params={"incident": "inc-web-green-evidence"}
    )
    assert download.status_code == 200
    assert download.content == data


def test_signing_after_the_sealed_evidence_was_removed_says_to_attach_it_again(
    demo: Demo, browsers: Browsers
) -> None:
    """The kept ciphertext is gone (a week passed) and the hub never had it: the incident is
    refused before it is said, with what to do, and nothing is logged."""
    blue = browsers.login(BLUE)
    carried = _preview_with_file(
        blue, "inc-web-lost-evidence", ("capture.pcap", b"\xd4\xc3\xb2\xa1" * 5000, "")
    )
    for kept in (demo.nodes[BLUE].directory.path / "blobs" / "outgoing").glob("evidence-*"):
        kept.unlink()
    size = demo.nodes[BLUE].state().size
    refused = blue.post("/compose/incident.notify", data=carried)
    assert refused.status_code == 400
    assert "'capture.pcap': its sealed copy is no longer on this node" in _text(refused)
    assert "attach the file again" in _text(refused)
    # The form comes back filled in from the previewed (sealed) content, but for the file.
    assert "but for its evidence files: attach them again)" in _text(refused)
    title = re.search(r'name="title" value="([^"]*)"', refused.text)
    assert title is not None
    assert html.unescape(title.group(1)) == TITLE
    assert 'value="inc-web-lost-evidence"' in refused.text
    demo.nodes[BLUE].sync()
    assert demo.nodes[BLUE].state().size == size
    assert "inc-web-lost-evidence" not in demo.nodes[BLUE].state().incidents

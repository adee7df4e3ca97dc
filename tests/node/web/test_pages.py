"""The node web UI over plain HTTP: login, CSRF, forms, the exact preview, verify, evidence."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import httpx

from detente.demo import Demo, scenario
from detente.statements.payload import encode_statement, parse_statement
from node.web.helpers import Browsers, csrf_of

BLUE, RED = scenario.BLUELAND, scenario.REDLAND


def _preview(client: httpx.Client, kind: str, data: dict[str, object]) -> httpx.Response:
    form = {"csrf": csrf_of(client.get(f"/compose/{kind}").text), "action": "preview", **data}
    return client.post(f"/compose/{kind}", data=form)


def test_every_page_needs_a_login(demo: Demo, browsers: Browsers) -> None:
    anonymous = browsers.anonymous(BLUE)
    for path in ("/", f"/incidents/{scenario.INCIDENT}", "/verify/1", "/norms", "/export"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert anonymous.post("/compose/ping", data={"id": "x"}).status_code == 303
    assert anonymous.get("/static/style.css").status_code == 200  # public, no data in it


def test_login_sets_a_strict_httponly_session_cookie(demo: Demo, browsers: Browsers) -> None:
    client = browsers.anonymous(BLUE)
    page = client.get("/login?next=//elsewhere.example/")
    wrong = client.post("/login", data={"csrf": csrf_of(page.text), "token": "nope"})
    assert wrong.status_code == 401
    assert "wrong token" in wrong.text
    right = client.post(
        "/login",
        data={
            "csrf": csrf_of(page.text),
            "token": demo.node_tokens[BLUE],
            "next": "//elsewhere.example/",
        },
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/"  # never off this node
    cookie = next(c for c in right.headers.get_list("set-cookie") if "detente_session" in c)
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert client.get("/").status_code == 200


def test_login_form_without_its_csrf_token_is_refused(demo: Demo, browsers: Browsers) -> None:
    client = browsers.anonymous(BLUE)
    answer = client.post("/login", data={"token": demo.node_tokens[BLUE]})
    assert answer.status_code == 403


def test_a_one_time_login_link_works_once(demo: Demo, browsers: Browsers) -> None:
    link = demo.login_link(RED)
    first = browsers.anonymous(None)
    answer = first.get(link)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert "Redland" in first.get(demo.node_urls[RED] + "/").text
    again = browsers.anonymous(None).get(link)
    assert again.status_code == 401
    assert "already used" in again.text


def test_posts_without_the_session_csrf_token_are_refused(demo: Demo, browsers: Browsers) -> None:
    client = browsers.login(BLUE)
    size = demo.nodes[BLUE].state().size
    form = {"action": "preview", "id": "ping-csrf", "to": RED, "role": "technical"}
    assert client.post("/compose/ping", data=form).status_code == 403
    assert client.post("/compose/ping", data={**form, "csrf": "forged"}).status_code == 403
    assert client.post("/sync", data={"csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert demo.nodes[BLUE].state().size == size


def test_dashboard_shows_the_accord_health_and_charts(demo: Demo, browsers: Browsers) -> None:
    page = browsers.login(BLUE).get("/").text
    assert "Election integrity accord" in page
    assert "in force" in page
    assert "WG-NO-HACK-AND-LEAK" in page
    assert "Witness cosignatures" in page
    assert "1 of 1 (quorum 1)" in page
    assert '<svg class="chart" role="img"' in page
    assert "Redland national CERT duty officer" in page  # ping table: the point of contact


def test_forms_validate_and_say_what_is_wrong(demo: Demo, browsers: Browsers) -> None:
    client = browsers.login(BLUE)
    no_norms = _preview(
        client,
        "incident.notify",
        {
            "id": "inc-x",
            "purpose": "allegation",
            "to": RED,
            "title": "t",
            "summary": "s",
            "severity": "high",
        },
    )
    assert no_norms.status_code == 400
    assert "names the norms" in html.unescape(no_norms.text)
    bad_minutes = _preview(
        client,
        "ping",
        {"id": "ping-x", "to": RED, "role": "technical", "reply_within_minutes": "soon"},
    )
    assert bad_minutes.status_code == 400
    assert "whole number" in html.unescape(bad_minutes.text)
    nobody = _preview(
        client, "ping", {"id": "ping-x", "role": "technical", "reply_within_minutes": "5"}
    )
    assert nobody.status_code == 400
    assert "invalid body for ping" in html.unescape(nobody.text)


def test_preview_shows_exactly_the_bytes_then_signed(demo: Demo, browsers: Browsers) -> None:
    client = browsers.login(BLUE)
    preview = _preview(
        client,
        "ping",
        {"id": "ping-exact", "to": RED, "role": "technical", "reply_within_minutes": "30"},
    )
    assert preview.status_code == 200
    shown = html.unescape(
        re.search(r'<pre class="payload"[^>]*>(.*?)</pre>', preview.text, re.S).group(1)
    )  # type: ignore[union-attr]
    carried = re.search(r'name="payload" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    payload = base64.b64decode(carried)
    assert shown.encode() == payload
    assert encode_statement(parse_statement(payload)) == payload  # canonical
    statement = parse_statement(payload)
    assert statement.author == BLUE
    assert statement.kind == "ping"
    signed = client.post(
        "/compose/ping",
        data={"csrf": csrf_of(preview.text), "action": "sign", "payload": carried},
    )
    assert signed.status_code == 303
    index = int(signed.headers["location"].rsplit("said=", 1)[1])
    ((_, entry),) = demo.nodes[BLUE].entries(index, index + 1)
    assert entry.envelope.payload == payload  # exactly what was shown
    again = client.post(
        "/compose/ping",
        data={"csrf": csrf_of(preview.text), "action": "sign", "payload": carried},
    )
    assert again.status_code == 400
    assert "moved on since the preview" in html.unescape(again.text)
    # The form comes back filled in from the preview, so previewing again is one click.
    assert 'name="id" value="ping-exact"' in again.text
    assert 'value="30"' in again.text


def test_verify_shows_a_valid_receipt_for_own_and_others(demo: Demo, browsers: Browsers) -> None:
    client = browsers.login(BLUE)
    state = demo.nodes[BLUE].state()
    notify = state.incidents[scenario.INCIDENT].index
    reply = state.incidents[scenario.INCIDENT].thread[0].index
    own = client.get(f"/verify/{notify}", headers={"X-Fragment": "1"}).text
    assert 'data-verdict="valid"' in own
    assert "the hub gave this node" in own
    other = client.get(f"/verify/{reply}").text
    assert 'data-verdict="valid"' in other
    assert "built from its own verified copy" in other
    assert client.get("/verify/100000").status_code == 404


def test_incident_thread_lists_evidence_for_recipients(demo: Demo, browsers: Browsers) -> None:
    blue = browsers.login(BLUE)
    page = blue.get(f"/incidents/{scenario.INCIDENT}").text
    digest = hashlib.sha256(scenario.EVIDENCE_TEXT).hexdigest()
    assert digest in page
    assert "TLP:AMBER" in page
    for kind in ("incident.notify", "incident.respond", "consultation.request"):
        assert kind in page
    download = blue.get(f"/evidence/{digest}", params={"incident": scenario.INCIDENT})
    assert download.status_code == 200
    assert download.content == scenario.EVIDENCE_TEXT
    # Redland's node fetches it from the hub (ciphertext), decrypts it and checks its hash.
    red = browsers.login(RED)
    red_page = red.get(f"/incidents/{scenario.INCIDENT}").text
    assert "encrypted on the hub; verified on download" in red_page
    assert f"/evidence/{digest}?incident={scenario.INCIDENT}" in red_page
    fetched = red.get(f"/evidence/{digest}", params={"incident": scenario.INCIDENT})
    assert fetched.status_code == 200
    assert fetched.content == scenario.EVIDENCE_TEXT
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in fetched.headers["content-disposition"]


def test_norms_search_and_export(demo: Demo, browsers: Browsers) -> None:
    client = browsers.login(BLUE)
    found = client.get("/norms", params={"q": "election"}).text
    assert "WG-NO-ELECTION-INTERFERENCE" in found
    assert "PARIS-P3" in found
    framed = client.get("/norms", params={"framework": "OSCE"}).text
    assert "WG-NO-ELECTION-INTERFERENCE" not in framed
    bundle = client.get("/export/bundle", params={"incident": scenario.INCIDENT})
    assert bundle.status_code == 200
    assert "attachment" in bundle.headers["content-disposition"]
    from detente.transcript.verify import verify_bundle

    assert verify_bundle(bundle.content).rows
    assert client.get("/export/bundle").status_code == 400

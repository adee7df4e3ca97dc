"""The web UIs of the demo's two nodes driven in Debian's Chromium (headless, Playwright).

Blueland files an allegation from its UI; it arrives on Redland's UI; Redland answers
"deny"; Blueland sees the answer and its verified receipt; then the clock (injected, never
waited for) passes the deadline of a request Redland leaves unanswered, and the dashboard
shows it overdue, in red and in words, with the witnessed time that proves it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from detente.demo import Demo, scenario
from node.web.conftest import MovableClock

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BLUE, RED = scenario.BLUELAND, scenario.REDLAND
_RED_TEXT = "rgb(179, 38, 30)"  # --bad in style.css


def _chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("DETENTE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; DETENTE_REQUIRE_BROWSER=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS, timeout=60_000
        )
        yield chromium
        chromium.close()


def _login_with_token(page: object, demo: Demo, party: str) -> None:
    page.goto(demo.node_urls[party] + "/")  # type: ignore[attr-defined]
    page.get_by_label("API token").fill(demo.node_tokens[party])  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]


def test_allegation_answer_verify_and_overdue_in_two_browsers(
    demo: Demo, clock: MovableClock, browser: object
) -> None:
    from playwright.sync_api import expect

    blue_ctx = browser.new_context()  # type: ignore[attr-defined]
    red_ctx = browser.new_context()  # type: ignore[attr-defined]
    blue, red = blue_ctx.new_page(), red_ctx.new_page()
    blue.set_default_timeout(30_000)
    red.set_default_timeout(30_000)
    blue_url = demo.node_urls[BLUE]

    # Log in (token form) and see the accord in force.
    _login_with_token(blue, demo, BLUE)
    agreements = blue.locator("section", has=blue.locator("#h-agreements"))
    expect(agreements).to_contain_text("Election integrity accord")
    expect(agreements).to_contain_text("in force")

    # File an allegation from Blueland's UI, choosing norms of the accord.
    blue.goto(blue_url + "/compose/incident.notify")
    blue.get_by_label("Incident id").fill("ballot-portal-defacement")
    blue.get_by_label("Purpose").select_option("allegation")
    blue.get_by_role("group", name="To").get_by_label(RED).check()
    blue.get_by_label("Title").fill("Defacement of the ballot information portal")
    blue.get_by_label("Summary").fill("The portal was defaced from a Redland-based host.")
    blue.get_by_label("Severity").select_option("high")
    blue.get_by_label("Under the agreement").select_option(scenario.ACCORD)
    blue.get_by_label("WG-NO-ELECTION-INTERFERENCE").check()
    blue.get_by_role("button", name="Preview what will be signed").click()
    payload = blue.locator("pre.payload")
    expect(payload).to_contain_text('"kind":"incident.notify"')
    expect(payload).to_contain_text('"id":"ballot-portal-defacement"')
    blue.get_by_role("button", name="Sign and send").click()
    expect(blue.locator("p.flash")).to_contain_text("Signed and logged")
    # AMBER by default: sealed to Blueland and Redland, and readable in Blueland's own node.
    expect(blue.locator("h1")).to_contain_text("Defacement of the ballot information portal")
    expect(blue.locator("h1 .sealed")).to_have_text("sealed")

    # It arrives on Redland's UI (one-time login link), and Redland answers "deny".
    red.goto(demo.login_link(RED))
    red.get_by_role("button", name="Sync with hub").click()
    opened = red.locator("section", has=red.locator("#h-open"))
    expect(opened).to_contain_text("Defacement of the ballot information portal")
    opened.get_by_role("link", name="Defacement of the ballot information portal").click()
    red.get_by_role("link", name="Respond").click()
    red.get_by_label("Response").select_option("deny")
    red.get_by_label("Text").fill("Redland rejects the allegation: the host is not ours.")
    red.get_by_role("button", name="Preview what will be signed").click()
    expect(red.locator("pre.payload")).to_contain_text('"response":"deny"')
    red.get_by_role("button", name="Sign and send").click()
    expect(red.locator("p.flash")).to_contain_text("Signed and logged")

    # Blueland sees the answer, and checks its receipt in its own node.
    blue.get_by_role("button", name="Sync with hub").click()
    answer = blue.locator("li.kind-incident-respond")
    expect(answer).to_contain_text("deny")
    expect(answer).to_contain_text("Redland rejects the allegation")
    answer.locator("a.verify").click()
    verdict = answer.locator(".verdict")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(verdict).to_contain_text("Receipt valid")

    # A request Redland leaves unanswered; the clock passes its deadline (72 h).
    blue.goto(blue_url + "/compose/incident.notify")
    blue.get_by_label("Incident id").fill("tally-server-scans")
    blue.get_by_label("Purpose").select_option("request-for-information")
    blue.get_by_role("group", name="To").get_by_label(RED).check()
    blue.get_by_label("Title").fill("Scans of the tally servers")
    blue.get_by_label("Summary").fill("Do you know of this activity?")
    blue.get_by_role("button", name="Preview what will be signed").click()
    blue.get_by_role("button", name="Sign and send").click()
    expect(blue.locator("p.flash")).to_contain_text("Signed and logged")
    blue.goto(blue_url + "/")
    expect(blue.locator("#h-overdue")).to_have_count(0)

    clock.advance(80)
    # Any statement after the deadline gets a checkpoint the witness cosigns at the new time.
    blue.goto(blue_url + "/compose/ping")
    blue.get_by_role("group", name="To").get_by_label(RED).check()
    blue.get_by_role("button", name="Preview what will be signed").click()
    blue.get_by_role("button", name="Sign and send").click()
    blue.goto(blue_url + "/")
    overdue = blue.locator("section.alert li.overdue").filter(has_text="tally-server-scans")
    expect(overdue.first).to_contain_text("OVERDUE")
    expect(overdue.first).to_contain_text("proven: checkpoint")
    expect(overdue.first).to_contain_text("cosigned by")
    assert overdue.first.evaluate("e => getComputedStyle(e).color") == _RED_TEXT
    row = blue.locator("tr.overdue").first
    expect(row).to_contain_text("OVERDUE")
    blue_ctx.close()
    red_ctx.close()

"""Take the README's screenshots of the node web UI from a fresh demo.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the demo (hub, witness, two nodes on loopback) in a temporary directory with a clock
it can move, files one more request that Redland leaves unanswered, moves the clock past its
deadline, and saves ``dashboard.png`` and ``incident.png`` of Blueland's UI with Debian's
Chromium (/usr/bin/chromium) driven by Playwright.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from detente.demo import scenario, start_demo
from detente.statements.kinds import ContactRole, IncidentNotify, Ping, Purpose, Severity, Tlp

CHROMIUM = "/usr/bin/chromium"
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


class Clock:
    """Wall time plus an offset the script moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp, start_demo(Path(tmp) / "demo", clock=clock) as demo:
        blue = demo.nodes[scenario.BLUELAND]
        blue.say(
            "incident.notify",
            IncidentNotify(
                id="scan-of-tally-servers",
                purpose=Purpose.REQUEST_FOR_INFORMATION,
                to=(scenario.REDLAND,),
                title="Scanning of the vote tally servers from Redland address space",
                summary="Please say whether you know of this activity and can stop it.",
                severity=Severity.MEDIUM,
                agreement=scenario.ACCORD,
                norms=(),
                evidence=(),
            ),
            tlp=Tlp.AMBER,
            pap=None,
        )
        clock.offset += 80 * 3600  # past the 72-hour answer deadline; Redland said nothing
        blue.say(
            "ping",
            Ping(
                id="ping-2",
                to=(scenario.REDLAND,),
                role=ContactRole.TECHNICAL,
                reply_within_minutes=60,
            ),
            tlp=Tlp.GREEN,
            pap=None,
        )
        demo.nodes[scenario.REDLAND].sync()
        blue.sync()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(demo.login_link(scenario.BLUELAND))
            page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
            page.goto(f"{demo.node_urls[scenario.BLUELAND]}/incidents/{scenario.INCIDENT}")
            for link in page.locator("a.verify").all()[:2]:
                link.click()
            page.locator(".verdict").nth(1).wait_for()
            page.screenshot(path=str(args.out / "incident.png"), full_page=True)
            browser.close()
    print(f"saved {args.out / 'dashboard.png'} and {args.out / 'incident.png'}")


if __name__ == "__main__":
    main()

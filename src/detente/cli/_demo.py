"""``detente demo``: the whole system on loopback in one command (``make run``)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from detente.cli._common import reported
from detente.cli._transcript import _deadlines, _statements


def demo_cmd(
    data: Annotated[
        Path, typer.Option(help="Parent directory; the demo makes a fresh folder in it.")
    ] = Path("run"),
    once: Annotated[
        bool, typer.Option("--once", help="Exit after playing and verifying the scenario.")
    ] = False,
    sync_every: Annotated[float, typer.Option(help="Seconds between node syncs.")] = 5.0,
) -> None:
    """Start a hub, a witness and two member nodes on 127.0.0.1 and play the founding scenario.

    Blueland and Redland found a group, agree the Election integrity accord, and go through an
    allegation, a denial, a consultation and a ping; each node then exports the incident's
    transcript and verifies it offline. Keeps serving until Ctrl-C unless --once.
    """
    import httpx

    from detente.demo import start_demo
    from detente.group.views import ping_answers

    # Wide enough for the transcript even when the output is not a terminal (CI logs).
    console = Console(width=max(Console().width, 150))

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    root = data / f"demo-{stamp}"
    with reported(), start_demo(root, progress=lambda m: console.print(f"[dim]·[/] {m}")) as demo:
        blue = demo.transcripts["blueland"]
        console.print(_statements(blue))
        console.print(_deadlines(blue))
        verdicts = Table(title="Verified offline from each node's side", title_justify="left")
        for column in ("node", "transcript", "statements", "checkpoint", "verdict"):
            verdicts.add_column(column)
        for party, transcript in demo.transcripts.items():
            verdicts.add_row(
                party,
                escape(str(demo.bundle_paths[party])),
                str(len(transcript.rows)),
                f"size {transcript.size}",
                "[bold green]VALID[/]",
            )
        console.print(verdicts)
        for answer in ping_answers(demo.nodes["blueland"].state()):
            took = (
                "not answered"
                if answer.answer_time is None
                else f"answered in {answer.answer_time}"
            )
            console.print(f"ping {answer.ping} to {answer.party}'s technical contact: {took}")
        digests = {p: n.state().digest().hex() for p, n in demo.nodes.items()}
        digests["hub"] = httpx.get(f"{demo.hub_url}/v1/state", timeout=10).json()["digest"]
        agree = len(set(digests.values())) == 1
        hub_state = f"state digest {digests['hub']}: " + (
            "[green]the hub and both nodes agree[/]" if agree else f"[red]DIFFER[/] {digests}"
        )
        where = Table(title="Where to look (127.0.0.1 only)", title_justify="left")
        where.add_column("service")
        where.add_column("address")
        where.add_column("notes")
        where.add_row("hub API", f"{demo.hub_url}/docs", "OpenAPI; /v1/state is public")
        where.add_row(
            "hub log", f"{demo.hub_url}/log/checkpoint", "tlog-tiles; checkpoint is public"
        )
        where.add_row("witness", f"{demo.witness_url}/add-checkpoint", "POST only")
        for party, url in demo.node_urls.items():
            where.add_row(
                f"{party} web UI",
                f"{url}/",
                f"log in with the token in {demo.root / party / 'api.token'}",
            )
            where.add_row(
                f"{party} node API",
                f"{url}/docs",
                f"Bearer token in {demo.root / party / 'api.token'}",
            )
        console.print(where)
        console.print(hub_state)
        console.print(f"data: {demo.root}")
        console.print(
            f"verify a transcript yourself: detente verify {demo.bundle_paths['redland']}"
        )
        console.print("[bold]Open the web UI[/] (each link logs you in once, then expires):")
        for party in demo.node_urls:
            link = demo.login_link(party)
            console.print(f"  {party:9} [link={link}]{link}[/link]", soft_wrap=True)
        if once:
            return
        console.print("[bold]running; Ctrl-C to stop[/]")
        try:
            while True:
                time.sleep(sync_every)
                for party, node in demo.nodes.items():
                    with demo.web[party].lock:  # not while its web UI signs or syncs
                        node.sync()
        except KeyboardInterrupt:
            console.print("stopping")

"""``detente hub``: create, found, serve and rebuild a group's hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from detente.cli._common import console, err_console, reported, wall_clock
from detente.hub.app import create_hub_app
from detente.hub.config import HubDir
from detente.hub.instance import found, open_hub, rebuild
from detente.serving import LOOPBACK, serve_forever

hub_app = typer.Typer(
    help="Run a group's hub: create, found, serve, rebuild.", no_args_is_help=True
)

DataOption = Annotated[Path, typer.Option("--data", help="The hub's data directory.")]


@hub_app.command("init")
def init(
    data: DataOption,
    origin: Annotated[str, typer.Option(help="The hub log's origin, e.g. example.org/our-group")],
    database: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: SQLite file in --data).")
    ] = None,
) -> None:
    """Create the hub's log key; print its verifier key (the genesis must name it)."""
    with reported():
        directory = HubDir.create(data, origin, database)
        console.print(f"hub log [bold]{origin}[/] created in {data}; put this key in the genesis:")
        print(directory.log.vkey)


@hub_app.command("found")
def found_cmd(
    data: DataOption,
    genesis: Annotated[Path, typer.Argument(help="The genesis envelope, signed by every founder.")],
) -> None:
    """Check the genesis (every founder signed it, it names this hub's log) and log it as entry 0.

    Exit status 4 when it is logged but the witnesses did not cosign yet (serve retries).
    """
    with reported():
        state, published = found(HubDir.open(data), genesis.read_bytes())
        console.print(
            f"group [bold]{state.name}[/] founded by {', '.join(sorted(state.parties))}; "
            f"state digest {state.digest().hex()}"
        )
    if not published:
        err_console.print("[yellow]warning:[/] genesis is logged but not yet cosigned")
        raise typer.Exit(4)


@hub_app.command("serve")
def serve(
    data: DataOption,
    port: Annotated[int, typer.Option(help="TCP port.")] = 8800,
    host: Annotated[str, typer.Option(help="Address to bind.")] = LOOPBACK,
) -> None:
    """Serve the hub's API (/v1/...) and its log (/log/...) over HTTP."""
    with reported(), open_hub(HubDir.open(data), clock=wall_clock) as hub:
        state = hub.service.state
        console.print(
            f"hub of [bold]{state.name}[/] at http://{host}:{port}/v1/state "
            f"(log size {state.size}); API at /docs"
        )
        serve_forever(create_hub_app(hub, warm=True), host, port)


@hub_app.command("rebuild")
def rebuild_cmd(
    data: DataOption,
    store: Annotated[
        bool, typer.Option("--store", help="Replace the stored snapshot with the replayed state.")
    ] = False,
) -> None:
    """Replay the log from genesis; compare with the stored state. Exit 0 only if equal."""
    with reported():
        columns = (
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console) as progress:
            task = progress.add_task("replaying", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = rebuild(HubDir.open(data), progress=advance, store_result=store)
        table = Table(title="Rebuild", show_header=False)
        table.add_row("log size", str(result.size))
        stored = "none" if result.stored is None else result.stored.hex()
        table.add_row("stored", f"{stored} (size {result.stored_size})")
        at_stored = "-" if result.replayed_at_stored is None else result.replayed_at_stored.hex()
        table.add_row("replayed at that size", at_stored)
        table.add_row("replayed", f"{result.replayed.hex()} (size {result.size})")
        verdict = "[bold green]EQUAL[/]" if result.equal else "[bold red]DIFFERENT[/]"
        table.add_row("verdict", verdict)
        console.print(table)
        print(f"stored   {stored}")
        print(f"replayed {result.replayed.hex()}")
    if not result.equal:
        raise typer.Exit(3)

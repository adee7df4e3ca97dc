"""``detente witness``: a c2sp.org/tlog-witness cosigner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detente.cli._common import console, reported, wall_clock
from detente.serving import LOOPBACK, serve_forever
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir

witness_app = typer.Typer(
    help="Run a witness that cosigns consistent checkpoints.", no_args_is_help=True
)

DataOption = Annotated[Path, typer.Option("--data", help="The witness's data directory.")]


@witness_app.command("init")
def init(
    data: DataOption,
    name: Annotated[str, typer.Option(help="The witness's key name, e.g. witness.example.org/w1")],
    trust: Annotated[
        list[str] | None, typer.Option(help="Verifier key of a log to witness (repeatable).")
    ] = None,
) -> None:
    """Create the witness key and state; print its cosignature/v1 verifier key."""
    with reported():
        vkey = witness_config.init(data, name)
        for log_vkey in trust or []:
            witness_config.add_log(data, log_vkey)
        console.print(f"witness created in [bold]{data}[/]; give logs this verifier key:")
        print(vkey)


@witness_app.command("trust")
def trust(
    data: DataOption,
    log_vkey: Annotated[str, typer.Argument(help="The log's verifier key string.")],
) -> None:
    """Witness another log (identified by its verifier key; origin = key name)."""
    with reported():
        witness_config.add_log(data, log_vkey)
        console.print(f"now witnessing {log_vkey.split('+', 1)[0]}")


@witness_app.command("serve")
def serve(
    data: DataOption,
    port: Annotated[int, typer.Option(help="TCP port on the host.")] = 8701,
    host: Annotated[str, typer.Option(help="Address to bind.")] = LOOPBACK,
) -> None:
    """Serve POST /add-checkpoint until interrupted."""
    with reported():
        app = witness_app_from_dir(data, wall_clock)
        console.print(f"witness listening on http://{host}:{port}/add-checkpoint")
    serve_forever(app, host, port)

"""``detente log``: create, append to, serve and prove a transparency log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from detente.cli._common import console, err_console, fail, reported, wall_clock
from detente.errors import NotFoundError, QuorumError
from detente.serving import LOOPBACK, serve_forever
from detente.tlog.logdir import LogDir
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt
from detente.tlog.sequencer import Sequencer
from detente.tlog.server import create_log_app
from detente.tlog.storage import LogStore
from detente.tlog.witnessing import Publisher, WitnessClient

log_app = typer.Typer(
    help="Create, append to, serve and prove a transparency log.", no_args_is_help=True
)

DataOption = Annotated[Path, typer.Option("--data", help="The log's data directory.")]


@dataclass
class OpenLog:
    """A log directory opened for writing: its store, sequencer and publisher."""

    logdir: LogDir
    store: LogStore
    sequencer: Sequencer
    publisher: Publisher | None


@contextmanager
def open_log(data: Path) -> Iterator[OpenLog]:
    logdir = LogDir.open(data)
    config = logdir.config
    with httpx.Client(timeout=5.0) as http, LogStore.open(config.database) as store:
        publisher = None
        if config.witnesses:
            clients = [WitnessClient(w.url, parse_vkey(w.vkey), http) for w in config.witnesses]
            publisher = Publisher(store, clients, config.quorum)
        sequencer = Sequencer(
            store, logdir.signer, config.origin, clock=wall_clock, publisher=publisher
        )
        yield OpenLog(logdir, store, sequencer, publisher)


@log_app.command("init")
def init(
    data: DataOption,
    origin: Annotated[str, typer.Option(help="The log's origin, e.g. example.org/detente-log")],
    database: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: SQLite file in --data).")
    ] = None,
) -> None:
    """Create the log and its key; print the log's verifier key."""
    with reported():
        logdir = LogDir.create(data, origin, database)
        with open_log(data):
            pass  # creates the schema and signs the checkpoint of the empty tree
        console.print(f"log [bold]{origin}[/] created in {data}; its verifier key:")
        print(logdir.vkey)


@log_app.command("add-witness")
def add_witness(
    data: DataOption,
    vkey: Annotated[str, typer.Option(help="The witness's cosignature/v1 verifier key.")],
    url: Annotated[str, typer.Option(help="The witness's URL prefix (before /add-checkpoint).")],
    quorum: Annotated[
        int | None, typer.Option(help="Cosignatures required to publish (default: all).")
    ] = None,
) -> None:
    """Ask this witness to cosign every new checkpoint; publish only with the quorum."""
    with reported():
        logdir = LogDir.open(data).add_witness(vkey, url, quorum)
        n = len(logdir.config.witnesses)
        console.print(f"{n} witness(es), quorum {logdir.config.quorum}")


@log_app.command("append")
def append(
    data: DataOption,
    files: Annotated[list[Path], typer.Argument(help="One entry per file (at most 65,535 bytes).")],
) -> None:
    """Append one entry per file in one batch; print each index once integrated."""
    with reported():
        entries = [f.read_bytes() for f in files]
        with open_log(data) as log:
            indices = log.sequencer.integrate(entries)
            latest = log.store.latest_checkpoint()
            published = log.store.latest_published()
        for index, f in zip(indices, files, strict=True):
            print(f"{index}\t{f}")
        if latest is not None and (published is None or published.size < latest.size):
            failures = log.publisher.last_failures if log.publisher else {}
            why = "; ".join(f"{k}: {v}" for k, v in failures.items()) or "no quorum"
            err_console.print(
                f"[yellow]warning:[/] entries are durable and checkpoint {latest.size} is signed, "
                f"but it is not published ({why}). Retry with `detente log publish --data {data}`.",
                soft_wrap=True,
            )
            raise typer.Exit(4)


@log_app.command("publish")
def publish(data: DataOption) -> None:
    """Retry publishing the latest signed checkpoint (collecting witness cosignatures)."""
    with reported():
        with open_log(data) as log:
            if log.publisher is not None:
                try:
                    log.publisher.publish()
                except QuorumError as exc:
                    fail(f"{exc}")
            published = log.store.latest_published()
        size = "nothing" if published is None else f"size {published.size}"
        console.print(f"published checkpoint: {size}")


@log_app.command("serve")
def serve(
    data: DataOption,
    port: Annotated[int, typer.Option(help="TCP port.")] = 8700,
    host: Annotated[str, typer.Option(help="Address to bind.")] = LOOPBACK,
) -> None:
    """Serve the log over HTTP as c2sp.org/tlog-tiles (checkpoint, tiles, entry bundles)."""
    with reported():
        logdir = LogDir.open(data)
        store = LogStore.open(logdir.config.database)
    console.print(f"log {logdir.config.origin} at http://{host}:{port}/checkpoint")
    try:
        serve_forever(create_log_app(store), host, port)
    finally:
        store.close()


@log_app.command("prove")
def prove(
    data: DataOption,
    index: Annotated[int, typer.Argument(help="Index of the entry.")],
    out: Annotated[
        Path | None, typer.Option(help="Receipt file to write (default: receipt-INDEX.tlog-proof)")
    ] = None,
) -> None:
    """Write a c2sp.org/tlog-proof receipt for an entry under the latest published checkpoint."""
    with reported():
        logdir = LogDir.open(data)
        with LogStore.open(logdir.config.database) as store:
            published = store.latest_published()
            if published is None or published.cosigned is None or index >= published.size:
                size = 0 if published is None else published.size
                raise NotFoundError(
                    f"entry {index} is not covered by a published checkpoint (size {size}); "
                    "append it, or publish with `detente log publish`"
                )
            proof = store.inclusion_proof(index, published.size)
            receipt = Receipt(index=index, proof=proof, checkpoint=published.cosigned)
        path = out if out is not None else Path(f"receipt-{index}.tlog-proof")
        path.write_bytes(receipt.to_bytes())
        console.print(f"receipt for entry {index} (tree size {published.size}) written to {path}")


@log_app.command("status")
def status(data: DataOption) -> None:
    """Show the log: size, signed and published checkpoints, witnesses."""
    with reported():
        logdir = LogDir.open(data)
        with LogStore.open(logdir.config.database) as store:
            latest = store.latest_checkpoint()
            published = store.latest_published()
        table = Table(title=f"Log {logdir.config.origin}", show_header=False)
        table.add_row("verifier key", logdir.vkey)
        table.add_row("database", logdir.config.database)
        if latest is not None:
            when = dt.datetime.fromtimestamp(latest.created_at, dt.UTC).isoformat(
                timespec="seconds"
            )
            table.add_row(
                "signed checkpoint", f"size {latest.size}, root {latest.root.hex()}, {when}"
            )
        table.add_row(
            "published checkpoint", "none" if published is None else f"size {published.size}"
        )
        for w in logdir.config.witnesses:
            table.add_row("witness", f"{w.vkey.split('+', 1)[0]} at {w.url}")
        table.add_row("quorum", str(logdir.config.quorum))
        console.print(table)

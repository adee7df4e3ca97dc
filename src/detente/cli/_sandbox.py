"""``detente log sandbox``: a local log and witness on loopback, to look at (``make run``)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from detente.cli._common import console, reported, wall_clock
from detente.cli._log import open_log
from detente.serving import BackgroundServer
from detente.tlog.client import LogClient
from detente.tlog.logdir import LogDir
from detente.tlog.note import parse_vkey
from detente.tlog.receipt import Receipt
from detente.tlog.server import create_log_app
from detente.tlog.tile import TILE_WIDTH
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir

ORIGIN = "detente.localhost/sandbox-log"
WITNESS = "detente.localhost/sandbox-witness"


def _prepare(data: Path, witness_url: str) -> tuple[Path, Path]:
    log_dir, witness_dir = data / "log", data / "witness"
    if not (log_dir / "config.json").exists():
        LogDir.create(log_dir, ORIGIN)
    logdir = LogDir.open(log_dir)
    if not (witness_dir / "witness.key").exists():
        witness_config.init(witness_dir, WITNESS)
        witness_config.add_log(witness_dir, logdir.vkey)
    witness_vkey = witness_config.load(witness_dir).vkey
    logdir.add_witness(witness_vkey, witness_url, quorum=1)
    return log_dir, witness_dir


def sandbox(
    data: Annotated[Path, typer.Option("--data", help="Directory for the log and witness.")] = Path(
        "run"
    ),
    log_port: Annotated[int, typer.Option(help="Port of the log (tlog-tiles).")] = 8700,
    witness_port: Annotated[int, typer.Option(help="Port of the witness.")] = 8701,
    once: Annotated[bool, typer.Option("--once", help="Exit after the walk-through.")] = False,
) -> None:
    """Start a log and a witness on 127.0.0.1, append entries, prove one, and keep serving."""
    with reported():
        witness_url = f"http://127.0.0.1:{witness_port}"
        log_dir, witness_dir = _prepare(data, witness_url)
        witness = BackgroundServer(witness_app_from_dir(witness_dir, wall_clock), port=witness_port)
        witness.start()
        with open_log(log_dir) as log:
            server = BackgroundServer(create_log_app(log.store), port=log_port).start()
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            entries = [f"sandbox entry {i} written at {stamp}\n".encode() for i in range(3)]
            indices = log.sequencer.integrate(entries)
            published = log.store.latest_published()
            if published is None or published.cosigned is None or published.size <= indices[-1]:
                raise typer.Exit(4)
            index = indices[-1]
            entry_path = data / f"entry-{index}.txt"
            entry_path.write_bytes(entries[-1])
            receipt_path = data / f"receipt-{index}.tlog-proof"
            proof = log.store.inclusion_proof(index, published.size)
            receipt_path.write_bytes(Receipt(index, proof, published.cosigned).to_bytes())

            # Check what is served the way a member would: over HTTP, trusting nothing.
            witness_vkey = witness_config.load(witness_dir).vkey
            with httpx.Client(timeout=5.0) as http:
                client = LogClient(
                    server.url,
                    parse_vkey(log.logdir.vkey),
                    [parse_vkey(witness_vkey)],
                    1,
                    data / "client-state.note",
                    http,
                )
                checked = client.verify_included(entries[-1], index)

            table = Table(title="Detente log sandbox (127.0.0.1 only)", show_header=False)
            table.add_row("checkpoint", f"{server.url}/checkpoint")
            first = "000" if published.size >= TILE_WIDTH else f"000.p/{published.size}"
            table.add_row("first tile", f"{server.url}/tile/0/{first}")
            table.add_row("first entries", f"{server.url}/tile/entries/{first}")
            table.add_row("witness", f"{witness.url}/add-checkpoint (POST)")
            table.add_row(
                "verified",
                f"entry {index} in tree of {checked.checkpoint.size}, "
                f"cosigned by {', '.join(n for n, _ in checked.cosignatures)}",
            )
            console.print(table)
            # Keys and commands as plain lines, so they can be copied whole.
            print(f"log key:     {log.logdir.vkey}")
            print(f"witness key: {witness_vkey}")
            print("verify the receipt offline:")
            print(
                f"  detente verify-receipt {receipt_path} --entry {entry_path} "
                f"--log-key '{log.logdir.vkey}' --witness-key '{witness_vkey}'"
            )
            print(f"append more (while this runs): detente log append --data {log_dir} FILE...")
            if not once:
                console.print("serving until Ctrl-C")
            try:
                while not once:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("stopping")
            finally:
                server.stop()
                witness.stop()

"""Root of the ``detente`` command: keys, offline receipt verification, and the sub-apps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from detente import __version__
from detente.cli._blob import blob_app, export_identity_cmd
from detente.cli._common import console, reported
from detente.cli._demo import demo_cmd
from detente.cli._evidence import evidence_app
from detente.cli._export import export_cmd
from detente.cli._hub import hub_app
from detente.cli._log import log_app
from detente.cli._node import node_app
from detente.cli._node_proofs import verify_misbehaviour_cmd
from detente.cli._sandbox import sandbox
from detente.cli._say import say_app
from detente.cli._show import show_app
from detente.cli._statement import group_app, party_app, statement_app
from detente.cli._transcript import verify_cmd
from detente.cli._witness import witness_app
from detente.crypto.keyfile import write_secret
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, parse_vkey
from detente.tlog.receipt import Receipt, verify_receipt

app = typer.Typer(
    name="detente",
    help="Detente: signed, logged and verifiable cooperation between parties that do not "
    "trust each other.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
log_app.command("sandbox")(sandbox)
app.add_typer(log_app, name="log")
app.add_typer(witness_app, name="witness")
app.add_typer(hub_app, name="hub")
app.add_typer(party_app, name="party")
app.add_typer(group_app, name="group")
app.add_typer(statement_app, name="statement")
app.command("verify")(verify_cmd)
app.command("demo")(demo_cmd)
app.command("export")(export_cmd)
app.command("verify-misbehaviour")(verify_misbehaviour_cmd)
app.add_typer(node_app, name="node")
node_app.command("export-identity")(export_identity_cmd)
app.add_typer(blob_app, name="blob")
app.add_typer(say_app, name="say")
app.add_typer(show_app, name="show")
app.add_typer(evidence_app, name="evidence")


def _version(value: bool) -> None:
    if value:
        console.print(f"detente {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Signed, logged and verifiable cooperation between parties that do not trust each other."""


@keys_app.command("new")
def keys_new(
    name: Annotated[str, typer.Argument(help="Key name, e.g. a log origin or a witness name.")],
    out: Annotated[
        Path | None, typer.Option(help="Private key file to create (mode 0600). Default: NAME.key")
    ] = None,
    cosigner: Annotated[
        bool, typer.Option("--cosigner", help="Print the cosignature/v1 (witness) verifier key.")
    ] = False,
) -> None:
    """Create an Ed25519 key; write the private key (Go PRIVATE+KEY format), print the vkey."""
    with reported():
        signer = CosignatureSigner.generate(name) if cosigner else Ed25519Signer.generate(name)
        path = out if out is not None else Path(f"{name.replace('/', '_')}.key")
        write_secret(path, signer.skey())
        console.print(f"private key written to [bold]{path}[/] (mode 0600)")
        print(signer.vkey())


@app.command("verify-receipt")
def verify_receipt_cmd(
    receipt_file: Annotated[Path, typer.Argument(help="A c2sp.org/tlog-proof receipt.")],
    entry: Annotated[Path, typer.Option(help="The entry the receipt is for (its exact bytes).")],
    log_key: Annotated[str, typer.Option(help="The log's verifier key string.")],
    witness_key: Annotated[
        list[str] | None, typer.Option(help="A witness verifier key (repeat for several).")
    ] = None,
    quorum: Annotated[
        int | None, typer.Option(help="Cosignatures required (default: every --witness-key).")
    ] = None,
) -> None:
    """Check a receipt offline: log signature, witness quorum, and the entry's inclusion.

    Exit status 0 when it verifies, 3 when it is well-formed but false, 1 when malformed.
    """
    with reported():
        witnesses = [parse_vkey(k) for k in witness_key or []]
        needed = len(witnesses) if quorum is None else quorum
        receipt = Receipt.from_bytes(receipt_file.read_bytes())
        signed = verify_receipt(receipt, entry.read_bytes(), parse_vkey(log_key), witnesses, needed)
        cp = signed.checkpoint
        table = Table(title="Receipt", show_header=False)
        table.add_row("log", cp.origin)
        table.add_row("entry", f"{entry} at index {receipt.index}")
        table.add_row("tree size", str(cp.size))
        table.add_row("root", cp.root.hex())
        for name, ts in signed.cosignatures:
            when = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else "(no time)"
            table.add_row("cosigned by", f"{name} at {when}")
        table.add_row("verdict", f"[bold green]VALID[/] (quorum {needed} of {len(witnesses)})")
        console.print(table)

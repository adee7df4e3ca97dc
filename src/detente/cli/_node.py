"""``detente node init|serve|sync|status``: a member's node, and what ``say`` needs of it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from detente.cli._common import console, err_console, fail, reported
from detente.crypto.age import IDENTITY_FILE, Identity, save_identity
from detente.crypto.keyfile import read_secret
from detente.node.config import NodeDir
from detente.statements.kinds import Body, Pap, PartyKeys, Tlp

if TYPE_CHECKING:
    from detente.node.speaker import Said

__all__ = ["NodeOption", "node_app", "print_said", "speak"]

node_app = typer.Typer(
    help="Your party's node: keys, sync with the hub, local API.", no_args_is_help=True
)

NodeOption = Annotated[Path, typer.Option("--node", help="The node's data directory.")]


def speak(
    node: Path,
    kind: str,
    body: Body,
    tlp: Tlp,
    pap: Pap | None,
    dry_run: bool,
    recipients: list[str] | None = None,
) -> None:
    """Say ``body`` for the node's party, or print what would be signed (``--dry-run``).

    TLP:AMBER, AMBER+STRICT and RED (or ``recipients``) seal the body: its confidential
    fields are encrypted to the author, the addressees and the recipients.
    """
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        if dry_run:
            signed = opened.draft(kind, body, tlp=tlp, pap=pap, recipients=recipients)
            from detente.statements.payload import encode_statement

            # Exactly the payload bytes that would be signed: canonical JSON, one line.
            print(encode_statement(signed.statement).decode())
            return
        said = opened.say(kind, body, tlp=tlp, pap=pap, recipients=recipients)
        print_said(said, kind, opened.party)


def print_said(said: Said, kind: str, party: str) -> None:
    """The table saying where a statement landed (and to whom it was sealed)."""
    table = Table(title=f"{kind} said by {party}", show_header=False)
    table.add_row("log index", str(said.index))
    table.add_row("seq", str(said.signed.statement.seq))
    table.add_row("tlp", said.signed.statement.tlp.value)
    sealed = getattr(said.signed.statement.body, "sealed", None)
    if sealed is not None:
        table.add_row(
            "sealed",
            f"encrypted to {', '.join(sealed.recipients)} ({sealed.size} bytes, blob "
            f"{sealed.blob.hex()[:16]}...)",
        )
    if said.checkpoint is not None:
        cp = said.checkpoint
        witnesses = ", ".join(n for n, _ in cp.cosignatures) or "(no witness required)"
        table.add_row("receipt", f"verified in tree of {cp.checkpoint.size}, by {witnesses}")
    else:
        table.add_row("receipt", "[yellow]not yet published[/]; `detente node sync` fetches it")
    console.print(table)


@node_app.command("init")
def init(
    party: Annotated[str, typer.Argument(help="Your party's id, e.g. blueland.")],
    hub: Annotated[str, typer.Option(help="The hub's URL, e.g. http://127.0.0.1:8800")],
    node: NodeOption = Path("node"),
    name: Annotated[str | None, typer.Option(help="Your party's display name.")] = None,
    key: Annotated[
        Path | None, typer.Option(help="Import an existing PARTY.key instead of a new one.")
    ] = None,
    log_vkey: Annotated[
        str | None, typer.Option(help="Pin the hub log's key (default: trust the genesis).")
    ] = None,
    peer: Annotated[
        list[str] | None, typer.Option(help="Another member node's API URL, for gossip.")
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of the local API.")] = 8900,
) -> None:
    """Create the node: party key (or import it), API token, settings; print the public keys.

    Writes NODE/party.json (id, name, signing key, encryption key) for `group genesis --party`.
    """
    with reported():
        text = None if key is None else read_secret(key)
        directory = NodeDir.create(
            node, party, hub, text, log_vkey=log_vkey, peers=tuple(peer or ()), api_port=api_port
        )
        identity = Identity.generate()
        save_identity(node / IDENTITY_FILE, identity, dt.datetime.now(dt.UTC))
        keys = PartyKeys(
            id=party,
            name=name or party.replace("-", " ").title(),
            signing_key=directory.public_key(),
            encryption_key=str(identity.recipient),
        )
        (node / "party.json").write_text(keys.model_dump_json(indent=2), encoding="utf-8")
        table = Table(title=f"node of {party}", show_header=False)
        table.add_row("directory", str(node))
        table.add_row("hub", directory.config.hub_url)
        table.add_row("signing key", base64.b64encode(directory.public_key()).decode())
        table.add_row(
            "encryption key", f"{identity.recipient} (age X25519; secret in {IDENTITY_FILE})"
        )
        table.add_row("identity file", str(node / "party.json"))
        console.print(table)


@node_app.command("sync")
def sync(node: NodeOption = Path("node")) -> None:
    """Sync with the hub: verify checkpoints, entries and receipts; re-apply the rules."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        report = opened.sync()
        _print_mapping("sync", report)
        invalid = report.get("sealed", {}).get("invalid", {})
        for index, reason in invalid.items():
            err_console.print(
                f"[bold red]sealed entry {index} is INVALID:[/] {reason}", soft_wrap=True
            )


@node_app.command("rotate-keys")
def rotate_keys_cmd(node: NodeOption = Path("node")) -> None:
    """New signing key and new age identity: say party.rotate-keys (signed by both keys).

    Old identities stay in NODE/age.key, so content sealed to them stays readable; new
    content is sealed to the new key only.
    """
    from detente.node.instance import open_node
    from detente.node.keys import rotate_keys

    with reported(), open_node(node) as opened:
        opened.sync()
        done = rotate_keys(opened)
        table = Table(title=f"keys of {opened.party} rotated", show_header=False)
        table.add_row("log index", str(done.said.index))
        table.add_row("signing key", base64.b64encode(done.signing_key).decode())
        table.add_row("encryption key", done.encryption_key)
        table.add_row("age identities kept", f"{done.identities} (in {IDENTITY_FILE})")
        console.print(table)


@node_app.command("status")
def status(node: NodeOption = Path("node")) -> None:
    """What the node knows: group, log size, trusted checkpoint, misbehaviour caught."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        found = opened.status()
        _print_mapping(f"node of {found['party']}", found)
        if found["misbehaviour"]:
            fail("the hub misbehaved: this node no longer trusts it (see misbehaviour)", 3)


@node_app.command("serve")
def serve(
    node: NodeOption = Path("node"),
    every: Annotated[float, typer.Option(help="Seconds between syncs.")] = 10.0,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: node.json).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: node.json).")] = None,
) -> None:
    """Run the local API, sync every few seconds, and answer pings (unless turned off)."""
    from detente.node.api import create_node_app
    from detente.node.instance import open_node
    from detente.serving import serve_forever

    with reported(), open_node(node) as opened:
        config = opened.directory.config
        bind, at = host or config.api_host, config.api_port if port is None else port
        stop = threading.Event()
        lock = threading.Lock()

        def loop() -> None:
            while not stop.is_set():
                try:
                    with lock:
                        opened.sync()
                except Exception as exc:  # keep serving; say why each round fails
                    err_console.print(f"[bold red]sync failed:[/] {exc}", soft_wrap=True)
                stop.wait(every)

        syncer = threading.Thread(target=loop, daemon=True)
        syncer.start()
        console.print(f"node of [bold]{opened.party}[/] API at http://{bind}:{at}/api/status "
                      f"(OpenAPI at /docs, token in {node / 'api.token'}); "
                      f"gossip at /gossip/checkpoint; syncing every {every:g} s")  # fmt: skip
        try:
            serve_forever(create_node_app(opened), bind, at)
        finally:
            stop.set()
            syncer.join(timeout=every + 5)
            time.sleep(0)


def _print_mapping(title: str, data: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for name, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        table.add_row(name.replace("_", " "), shown)
    console.print(table)

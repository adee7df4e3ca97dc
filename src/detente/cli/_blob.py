"""``detente blob put|get|upload`` and ``detente node export-identity``: evidence blobs.

``put`` encrypts a file on this node to the named parties (and to the node itself) with age,
uploads the ciphertext in resumable chunks and prints its reference (ciphertext SHA-256 and
size, plus the plaintext's hash for the statement's sealed content). If the upload fails the
ciphertext is kept in NODE/blobs/outgoing/ and ``detente blob upload`` resumes it. ``get``
downloads a blob, refuses it unless its SHA-256 matches, and decrypts it with the node's
identity; ``--raw`` writes the verified ciphertext instead (for ``age -d``).
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer

from detente.cli._common import console, err_console, reported
from detente.crypto.age import (
    IDENTITY_FILE,
    Identity,
    Recipient,
    identity_file_text,
    load_identities,
)
from detente.crypto.blob import BlobRef, parse_sha256
from detente.crypto.keyfile import write_secret
from detente.errors import MalformedError, NotFoundError
from detente.node.blobs import DEFAULT_CHUNK_SIZE, BlobClient, hub_login, open_blob, seal_file
from detente.node.config import NodeDir

__all__ = ["blob_app", "export_identity_cmd"]

blob_app = typer.Typer(
    help="Evidence blobs: encrypted on this node, stored by the hub as ciphertext.",
    no_args_is_help=True,
)

_NodeOption = Annotated[Path, typer.Option("--node", help="The node's data directory.")]
_OUTGOING = Path("blobs") / "outgoing"


def _identities(directory: NodeDir) -> list[Identity]:
    """Every identity the node ever had (age.key keeps old ones after a key rotation)."""
    path = directory.path / IDENTITY_FILE
    if not path.exists():
        raise NotFoundError(f"{path} does not exist: this node has no age identity yet")
    return load_identities(path)


def _identity(directory: NodeDir) -> Identity:
    """The node's current identity (the newest)."""
    return _identities(directory)[-1]


def _recipients(directory: NodeDir, parties: list[str], extra: list[str]) -> list[Recipient]:
    """The node itself (so its author can read it back), the named parties, and ``extra``."""
    found = [_identity(directory).recipient]
    if parties:
        from detente.node.instance import open_node

        with open_node(directory.path) as opened:
            state = opened.state()
            for party in parties:
                member = state.parties.get(party)
                if member is None or member.left:
                    raise NotFoundError(f"{party!r} is not a member of the group")
                found.append(Recipient(member.encryption_key))
    found.extend(Recipient(text) for text in extra)
    return list(dict.fromkeys(found))


@contextmanager
def _client(directory: NodeDir, chunk_mib: int) -> Iterator[BlobClient]:
    config = directory.config
    key = directory.private_key()
    with httpx.Client(timeout=120.0) as http:
        yield BlobClient(
            http,
            config.hub_url,
            lambda: hub_login(http, config.hub_url, config.party, key.sign),
            chunk_size=chunk_mib * 1024 * 1024 if chunk_mib else DEFAULT_CHUNK_SIZE,
            console=err_console,
        )


@blob_app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="The file to encrypt and upload.")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A party to encrypt to (repeatable).")
    ] = None,
    recipient: Annotated[
        list[str] | None, typer.Option(help="An extra age1... recipient (repeatable).")
    ] = None,
    media_type: Annotated[str | None, typer.Option(help="Default: guessed from the name.")] = None,
    chunk_mib: Annotated[int, typer.Option(help="Upload chunk size in MiB.", min=1)] = 8,
    node: _NodeOption = Path("node"),
) -> None:
    """Encrypt FILE to the parties (and this node), upload it, print its reference as JSON."""
    with reported():
        directory = NodeDir.open(node)
        recipients = _recipients(directory, list(to or []), list(recipient or []))
        outgoing = directory.path / _OUTGOING
        outgoing.mkdir(parents=True, exist_ok=True)
        partial = outgoing / f".{file.name}.sealing"
        partial.unlink(missing_ok=True)
        media = media_type or mimetypes.guess_type(file.name)[0]
        try:
            sealed = seal_file(file, partial, recipients, media_type=media, console=err_console)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        kept = outgoing / f"{sealed.ref.hex}.age"
        partial.replace(kept)
        with _client(directory, chunk_mib) as client:
            try:
                client.upload(kept, sealed.ref)
            except BaseException:
                err_console.print(
                    f"[yellow]the upload did not finish;[/] resume it with: detente blob upload "
                    f"{kept} --node {node}",
                    soft_wrap=True,
                )
                raise
        kept.unlink()
        out = {**sealed.to_json(), "recipients": [str(r) for r in recipients]}
        print(json.dumps(out, indent=2))


@blob_app.command("upload")
def upload(
    ciphertext: Annotated[Path, typer.Argument(help="An age file kept by `blob put`.")],
    chunk_mib: Annotated[int, typer.Option(help="Upload chunk size in MiB.", min=1)] = 8,
    node: _NodeOption = Path("node"),
) -> None:
    """Upload (or resume uploading) an already encrypted file; print its reference."""
    import hashlib

    with reported():
        directory = NodeDir.open(node)
        digest = hashlib.sha256()
        with ciphertext.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
        ref = BlobRef(digest.digest(), ciphertext.stat().st_size)
        with _client(directory, chunk_mib) as client:
            client.upload(ciphertext, ref)
        if ciphertext.parent == directory.path / _OUTGOING:
            ciphertext.unlink()
        print(json.dumps(ref.to_json(), indent=2))


@blob_app.command("get")
def get(
    sha256: Annotated[str, typer.Argument(help="The blob's (ciphertext) SHA-256, hex.")],
    out: Annotated[Path, typer.Option(help="Where to write the plaintext (must not exist).")],
    raw: Annotated[
        bool, typer.Option("--raw", help="Write the verified ciphertext; do not decrypt.")
    ] = False,
    node: _NodeOption = Path("node"),
) -> None:
    """Download a blob, verify its SHA-256, decrypt it with this node's identity."""
    with reported():
        digest = parse_sha256(sha256)
        if out.exists():
            raise MalformedError(f"{out} exists; refusing to overwrite it")
        directory = NodeDir.open(node)
        identities = None if raw else _identities(directory)
        with _client(directory, 0) as client:
            ref = client.stat(digest)
            if identities is None:
                client.download(ref, out)
            else:
                ciphertext = out.with_name(f".{out.name}.age")
                try:
                    client.download(ref, ciphertext)
                    open_blob(ciphertext, out, identities, console=err_console)
                finally:
                    ciphertext.unlink(missing_ok=True)
        console.print(f"blob {ref.hex} ({ref.size} bytes) verified; written to [bold]{out}[/]")


def export_identity_cmd(
    out: Annotated[Path, typer.Option(help="File to create (mode 0600), for `age -d -i FILE`.")],
    node: _NodeOption = Path("node"),
) -> None:
    """Export the node's age identities (its private decryption keys, every one it ever had,
    newest last) in age-keygen format."""
    with reported():
        identities = _identities(NodeDir.open(node))
        created = dt.datetime.fromtimestamp((node / IDENTITY_FILE).stat().st_mtime, dt.UTC)
        write_secret(out, "".join(identity_file_text(i, created) for i in identities))
        console.print(
            f"{len(identities)} age identit{'y' if len(identities) == 1 else 'ies'} written to "
            f"[bold]{out}[/] (mode 0600); the current recipient:"
        )
        print(identities[-1].recipient)

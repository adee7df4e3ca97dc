"""``detente party new``, ``detente group genesis``, ``detente statement sign``: founding a group.

The founders each make a key (``party new``), one of them drafts the genesis from their party
files (``group genesis``), and each founder adds a signature (``statement sign``) before the
hub logs it (``detente hub found``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.cli._common import console, reported, wall_clock
from detente.crypto.keyfile import read_secret, write_secret
from detente.errors import MalformedError
from detente.statements.envelope import PAYLOAD_TYPE, Envelope, Signature, key_id, pae
from detente.statements.kinds import DeadlinePolicy, GroupGenesis, PartyKeys, Tlp, WitnessKey
from detente.statements.payload import Statement, encode_statement
from detente.tlog.note import Ed25519Signer

party_app = typer.Typer(help="A party's signing key.", no_args_is_help=True)
group_app = typer.Typer(help="Draft group statements.", no_args_is_help=True)
statement_app = typer.Typer(help="Sign statements.", no_args_is_help=True)


def _private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key of a Go ``PRIVATE+KEY+name+id+base64(0x01||seed)`` file."""
    text = read_secret(path)
    Ed25519Signer.from_skey(text)  # checks the format, the key id and the algorithm
    raw = base64.b64decode(text.split("+", 4)[4])  # names hold no "+", base64 may
    return Ed25519PrivateKey.from_private_bytes(raw[1:33])


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@party_app.command("new")
def party_new(
    party: Annotated[str, typer.Argument(help="The party's id, e.g. blueland.")],
    name: Annotated[str, typer.Option(help="The party's display name.")],
    encryption_key: Annotated[str, typer.Option(help="The party's age X25519 recipient.")],
    out: Annotated[Path, typer.Option(help="Directory for PARTY.key and PARTY.json.")] = Path(),
) -> None:
    """Create a party's signing key (PARTY.key, 0600) and its public identity (PARTY.json)."""
    with reported():
        signer = Ed25519Signer.generate(party)
        write_secret(out / f"{party}.key", signer.skey())
        keys = PartyKeys(
            id=party,
            name=name,
            signing_key=_raw_public(_private_key(out / f"{party}.key")),
            encryption_key=encryption_key,
        )
        (out / f"{party}.json").write_text(keys.model_dump_json(indent=2), encoding="utf-8")
        console.print(f"{out / f'{party}.key'} (secret) and {out / f'{party}.json'} written")


@group_app.command("genesis")
def group_genesis(
    group: Annotated[str, typer.Option(help="The group's slug, named by every statement.")],
    title: Annotated[str, typer.Option(help="The group's name.")],
    party: Annotated[list[Path], typer.Option(help="A founder's PARTY.json (first: the author).")],
    log_origin: Annotated[str, typer.Option(help="The hub log's origin.")],
    log_vkey: Annotated[str, typer.Option(help="The hub log's verifier key (hub init).")],
    out: Annotated[Path, typer.Option(help="The draft payload to write.")],
    witness: Annotated[
        list[str] | None, typer.Option(help="A witness as VKEY or VKEY=URL (repeat).")
    ] = None,
    witness_quorum: Annotated[int | None, typer.Option(help="Default: every witness.")] = None,
    admission_quorum: Annotated[int, typer.Option(help="Votes to admit a party.")] = 2,
    acknowledge_hours: Annotated[int, typer.Option()] = 24,
    answer_hours: Annotated[int, typer.Option()] = 72,
) -> None:
    """Draft the genesis statement (unsigned payload) from the founders' party files."""
    with reported():
        founders = tuple(
            PartyKeys.model_validate_json(p.read_text(encoding="utf-8"), strict=False)
            for p in party
        )
        witnesses = []
        for spec in witness or []:
            vkey, _, url = spec.partition("=")
            witnesses.append(WitnessKey(vkey=vkey, url=url or None))
        body = GroupGenesis(
            name=title,
            parties=founders,
            log_origin=log_origin,
            log_vkey=log_vkey,
            witnesses=tuple(witnesses),
            witness_quorum=len(witnesses) if witness_quorum is None else witness_quorum,
            admission_quorum=admission_quorum,
            deadlines=DeadlinePolicy(
                acknowledge_hours=acknowledge_hours, answer_hours=answer_hours
            ),
        )
        issued = dt.datetime.fromtimestamp(wall_clock(), dt.UTC)
        statement = Statement(
            "group.genesis", group, founders[0].id, 0, None, issued, Tlp.GREEN, None, body
        )
        out.write_bytes(encode_statement(statement))
        console.print(f"genesis draft written to {out}; every founder signs it next")


@statement_app.command("sign")
def statement_sign(
    file: Annotated[Path, typer.Argument(help="A payload, or an envelope to add a signature to.")],
    key: Annotated[Path, typer.Option(help="The signer's PARTY.key.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default: FILE).")] = None,
) -> None:
    """Sign a statement payload (making an envelope) or add a signature to an envelope."""
    with reported():
        data = file.read_bytes()
        try:
            is_envelope = json.loads(data).get("payloadType") == PAYLOAD_TYPE
        except (ValueError, AttributeError) as exc:
            raise MalformedError(f"{file} is not a JSON statement or envelope") from exc
        private = _private_key(key)
        keyid = key_id(_raw_public(private))
        if is_envelope:
            envelope = Envelope.from_bytes(data)
            payload, signatures = envelope.payload, envelope.signatures
        else:
            payload, signatures = data, ()
        if any(s.keyid == keyid for s in signatures):
            raise MalformedError(f"{file} is already signed by key {keyid}")
        new = Signature(keyid, private.sign(pae(PAYLOAD_TYPE, payload)))
        ordered = tuple(sorted((*signatures, new), key=lambda s: s.keyid))
        (out or file).write_bytes(Envelope(PAYLOAD_TYPE, payload, ordered).to_bytes())
        console.print(f"signed by key {keyid}; {len(ordered)} signature(s)")

"""Rotating a node's keys: a new Ed25519 signing key and a new age identity.

``rotate_keys(node)``:

1. generates both keys and APPENDS the new age identity to ``age.key`` first (the file keeps
   every identity the node ever had, newest last, so content sealed to an old key stays
   readable, and a crash never loses the key new content is sealed to);
2. writes the new signing key to ``party.key.next`` (0600);
3. says ``party.rotate-keys`` signed by the current AND the new signing key (the group rules
   require both, ``rotate-unsigned``);
4. once the hub accepted it, renames ``party.key.next`` over ``party.key`` and signs (and
   logs in to the hub) with the new key from then on. A refusal removes ``party.key.next``.

If the node stopped between 3 and 4, the next rotation finds ``party.key.next``: when the
group state already names it as the party's key, the switch is finished; otherwise the stale
file is removed. New content is sealed to the new encryption key only (the group state's
current key); the old identity alone cannot open it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.crypto.age import IDENTITY_FILE, Identity, add_identity, save_identity
from detente.crypto.keyfile import read_secret, write_secret
from detente.node.config import KEY_FILE
from detente.node.instance import Node
from detente.node.speaker import Said
from detente.tlog.note import Ed25519Signer

__all__ = ["NEXT_KEY_FILE", "Rotation", "rotate_keys"]

NEXT_KEY_FILE = KEY_FILE + ".next"


@dataclass(frozen=True, slots=True)
class Rotation:
    """A finished rotation: the statement, and the new public keys."""

    said: Said
    signing_key: bytes
    encryption_key: str
    identities: int  # how many age identities the node now holds


def rotate_keys(node: Node, now: dt.datetime | None = None) -> Rotation:
    """Rotate ``node``'s signing and encryption keys (see the module docstring)."""
    now = node.now() if now is None else now
    path = node.directory.path
    _finish_or_drop(node)
    new_key = Ed25519PrivateKey.generate()
    identity = Identity.generate()
    identity_path = path / IDENTITY_FILE
    if identity_path.exists():
        add_identity(identity_path, identity, now)
    else:
        save_identity(identity_path, identity, now)
    pending = path / NEXT_KEY_FILE
    write_secret(pending, Ed25519Signer(node.party, new_key).skey())
    try:
        said = node.speaker.rotate_keys(new_key, identity.recipient)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    _switch(node, new_key)
    node.sync()
    return Rotation(said, _public(new_key), str(identity.recipient), len(node.identities()))


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _switch(node: Node, new_key: Ed25519PrivateKey) -> None:
    path = node.directory.path
    os.replace(path / NEXT_KEY_FILE, path / KEY_FILE)
    # The syncer logs in to the hub with the party key: from now on with the new one.
    if hasattr(node.syncer, "_key"):
        node.syncer._key = new_key
        node.syncer._token = None


def _finish_or_drop(node: Node) -> None:
    """Finish a rotation the hub accepted before the node stopped; drop a stale next key."""
    pending = node.directory.path / NEXT_KEY_FILE
    if not pending.exists():
        return
    key = _read_key(pending)
    if _public(key) == node.state().parties[node.party].signing_key:
        node.speaker.use_key(key)
        _switch(node, key)
    else:
        pending.unlink()


def _read_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in a Go ``PRIVATE+KEY`` file (as ``NodeDir.private_key`` reads it)."""
    text = read_secret(path)
    Ed25519Signer.from_skey(text)  # checks the format, the key id and the algorithm
    raw = base64.b64decode(text.split("+", 4)[4])
    return Ed25519PrivateKey.from_private_bytes(raw[1:33])

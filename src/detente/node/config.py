"""A member node's data directory: its settings, its party key and its local API token.

Layout of ``DIR``::

    node.json        NodeConfig: party id, hub URL, database URL, API address, peers, ...
    party.key        the party's Ed25519 signing key (Go PRIVATE+KEY format, mode 0600)
    api.token        a random bearer token for the node's local JSON API (mode 0600)
    node.db          the SQLite database, unless node.json names another URL
    misbehaviour/    one JSON proof file per misbehaviour of the hub the node caught

``NodeDir.create(path, party, hub_url, key=None)`` makes a new directory (a fresh key when
``key`` is None); ``NodeDir.open(path)`` opens one. The log's verifier key may be pinned at
init (``log_vkey``); without it the first sync trusts the key the group's genesis names
(trust on first use) and the node records it.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.crypto.keyfile import read_secret, write_secret
from detente.errors import ConflictError, MalformedError
from detente.tlog.note import Ed25519Signer

__all__ = [
    "API_TOKEN_FILE",
    "CONFIG_FILE",
    "DEFAULT_API_PORT",
    "KEY_FILE",
    "PROOFS_DIR",
    "NodeConfig",
    "NodeDir",
]

CONFIG_FILE = "node.json"
KEY_FILE = "party.key"
API_TOKEN_FILE = "api.token"  # noqa: S105 - a file name, not a secret
PROOFS_DIR = "misbehaviour"
DEFAULT_API_PORT = 8900
_DB_FILE = "node.db"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The settings in ``node.json`` (every field but party and hub_url has a default)."""

    party: str
    hub_url: str
    #: SQLAlchemy URL; empty means ``sqlite:///DIR/node.db``.
    database: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    #: Base URLs of other members' node APIs, asked for ``/gossip/checkpoint``.
    peers: tuple[str, ...] = field(default_factory=tuple)
    #: Answer pings addressed to this party automatically (``ping.ack``).
    auto_ack_pings: bool = True
    #: The hub log's verifier key, pinned at init; None: trust genesis on first use.
    log_vkey: str | None = None

    def __post_init__(self) -> None:
        if not self.party or not self.hub_url:
            raise MalformedError("a node needs a party id and a hub URL")
        if not self.hub_url.startswith(("http://", "https://")):
            raise MalformedError(f"the hub URL must be http(s)://..., not {self.hub_url!r}")
        if isinstance(self.api_port, bool) or not 0 <= self.api_port <= 65535:
            raise MalformedError(f"api_port must be 0..65535, not {self.api_port!r}")

    def to_json(self) -> str:
        raw = asdict(self)
        raw["peers"] = list(self.peers)
        return json.dumps(raw, indent=2)

    @classmethod
    def from_json(cls, text: str) -> NodeConfig:
        try:
            raw: Any = json.loads(text)
        except ValueError as exc:
            raise MalformedError(f"{CONFIG_FILE} is not JSON: {exc}") from exc
        known = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - known:
            unknown = sorted(set(raw) - known) if isinstance(raw, dict) else raw
            raise MalformedError(f"{CONFIG_FILE}: unknown fields {unknown}")
        peers = raw.get("peers", [])
        if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
            raise MalformedError(f"{CONFIG_FILE}: peers must be a list of URLs")
        raw["peers"] = tuple(p.rstrip("/") for p in peers)
        try:
            return cls(**raw)
        except TypeError as exc:
            raise MalformedError(f"{CONFIG_FILE}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class NodeDir:
    """An opened node directory."""

    path: Path
    config: NodeConfig

    @classmethod
    def create(
        cls,
        path: Path,
        party: str,
        hub_url: str,
        key: str | None = None,
        *,
        database: str = "",
        log_vkey: str | None = None,
        peers: tuple[str, ...] = (),
        api_port: int = DEFAULT_API_PORT,
    ) -> NodeDir:
        """Create ``path`` (which may exist but must hold no node yet).

        ``key`` is the text of an existing Go ``PRIVATE+KEY`` file of the party; None
        generates a new key (its public half then goes into the group's genesis or an
        admission statement).
        """
        path.mkdir(parents=True, exist_ok=True)
        if (path / CONFIG_FILE).exists():
            raise ConflictError(f"{path} already holds a node ({CONFIG_FILE})")
        _private(path)
        signer = Ed25519Signer.from_skey(key) if key is not None else Ed25519Signer.generate(party)
        config = NodeConfig(
            party=party,
            hub_url=hub_url.rstrip("/"),
            database=database,
            log_vkey=log_vkey,
            peers=tuple(p.rstrip("/") for p in peers),
            api_port=api_port,
        )
        write_secret(path / KEY_FILE, signer.skey())
        write_secret(path / API_TOKEN_FILE, secrets.token_urlsafe(32))
        (path / PROOFS_DIR).mkdir(exist_ok=True)
        (path / CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")
        return cls(path, config)

    @classmethod
    def open(cls, path: Path) -> NodeDir:
        file = path / CONFIG_FILE
        if not file.exists():
            raise MalformedError(f"{path} is not a node directory (no {CONFIG_FILE})")
        _private(path)
        return cls(path, NodeConfig.from_json(file.read_text(encoding="utf-8")))

    def update(self, **changes: Any) -> NodeDir:
        """Write ``node.json`` with ``changes`` applied; the updated directory."""
        config = replace(self.config, **changes)
        (self.path / CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")
        return NodeDir(self.path, config)

    @property
    def database(self) -> str:
        """The database URL (the SQLite file in the directory by default)."""
        return self.config.database or f"sqlite:///{(self.path / _DB_FILE).resolve()}"

    @property
    def proofs_dir(self) -> Path:
        directory = self.path / PROOFS_DIR
        directory.mkdir(exist_ok=True)
        return directory

    def signer(self) -> Ed25519Signer:
        """The party key as a signed-note signer (its ``skey`` is the key file's text)."""
        return Ed25519Signer.from_skey(read_secret(self.path / KEY_FILE))

    def private_key(self) -> Ed25519PrivateKey:
        """The party's Ed25519 signing key."""
        text = read_secret(self.path / KEY_FILE)
        Ed25519Signer.from_skey(text)  # checks the format, the key id and the algorithm
        raw = base64.b64decode(text.split("+", 4)[4])  # names hold no "+", base64 may
        return Ed25519PrivateKey.from_private_bytes(raw[1:33])

    def public_key(self) -> bytes:
        """The raw 32-byte public signing key (as genesis lists it)."""
        return self.private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def api_token(self) -> str:
        return read_secret(self.path / API_TOKEN_FILE)


def _private(path: Path) -> None:
    """Make the node's directory 0700: it holds decrypted confidential content (the opened
    bodies in its database, fetched evidence), which nobody but its owner may read, whatever
    the mode of each file in it. A directory others could enter is closed, not refused."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & 0o700 | 0o700)

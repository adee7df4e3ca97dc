"""A log's data directory: its signing key, its configuration and (by default) its database.

Layout of ``DIR``::

    log.key       the log's Ed25519 private key, Go ``PRIVATE+KEY+...`` string, mode 0600
    log.vkey      the verifier-key string (public; give it to members and witnesses)
    config.json   origin, database URL, witnesses (vkey + URL) and the cosignature quorum
    log.db        the SQLite database, unless ``config.json`` names another URL
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from detente.crypto.keyfile import read_secret, write_secret
from detente.errors import MalformedError, NotFoundError
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.note import Ed25519Signer, parse_vkey

__all__ = ["LogConfig", "LogDir", "WitnessEndpoint"]

_KEY = "log.key"
_VKEY = "log.vkey"
_CONFIG = "config.json"


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures: its verifier key and its URL prefix."""

    vkey: str
    url: str


@dataclass(frozen=True, slots=True)
class LogConfig:
    origin: str
    database: str
    witnesses: tuple[WitnessEndpoint, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if self.quorum < 0 or self.quorum > len(self.witnesses):
            raise MalformedError(
                f"quorum {self.quorum} is not between 0 and the {len(self.witnesses)} witnesses"
            )

    def to_json(self) -> str:
        return json.dumps(
            {
                "origin": self.origin,
                "database": self.database,
                "witnesses": [{"vkey": w.vkey, "url": w.url} for w in self.witnesses],
                "quorum": self.quorum,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LogConfig:
        try:
            raw = json.loads(text)
            witnesses = tuple(
                WitnessEndpoint(str(w["vkey"]), str(w["url"])) for w in raw["witnesses"]
            )
            return cls(str(raw["origin"]), str(raw["database"]), witnesses, int(raw["quorum"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedError(f"log config is not valid: {exc}") from exc


@dataclass(frozen=True, slots=True)
class LogDir:
    path: Path
    config: LogConfig
    signer: Ed25519Signer

    @classmethod
    def create(cls, path: Path, origin: str, database: str | None = None) -> LogDir:
        # The origin is the checkpoint's first line and the log key's name. C2SP recommends
        # a schema-less URL without spaces or '+'; for our own logs the recommendation is a rule.
        if not origin or "+" in origin or any(c.isspace() for c in origin):
            raise MalformedError(f"log origin {origin!r} must be non-empty, without spaces or '+'")
        Checkpoint(origin=origin, size=0, root=bytes(32))
        path.mkdir(parents=True, exist_ok=True)
        if (path / _CONFIG).exists() or (path / _KEY).exists():
            raise MalformedError(f"{path} already holds a log; refusing to overwrite its key")
        signer = Ed25519Signer.generate(origin)
        write_secret(path / _KEY, signer.skey())
        (path / _VKEY).write_text(signer.verifier().vkey() + "\n", encoding="utf-8")
        url = database or f"sqlite:///{(path / 'log.db').resolve()}"
        config = LogConfig(origin=origin, database=url)
        (path / _CONFIG).write_text(config.to_json(), encoding="utf-8")
        return cls(path, config, signer)

    @classmethod
    def open(cls, path: Path) -> LogDir:
        if not (path / _CONFIG).exists():
            raise NotFoundError(f"{path} holds no log (run `detente log init --data {path}`)")
        config = LogConfig.from_json((path / _CONFIG).read_text(encoding="utf-8"))
        signer = Ed25519Signer.from_skey(read_secret(path / _KEY))
        return cls(path, config, signer)

    @property
    def vkey(self) -> str:
        return self.signer.verifier().vkey()

    def add_witness(self, vkey: str, url: str, quorum: int | None = None) -> LogDir:
        parse_vkey(vkey)  # refuse a malformed key before it lands in the config
        witnesses = tuple(w for w in self.config.witnesses if w.vkey != vkey)
        witnesses += (WitnessEndpoint(vkey, url.rstrip("/")),)
        new_quorum = len(witnesses) if quorum is None else quorum
        config = replace(self.config, witnesses=witnesses, quorum=new_quorum)
        (self.path / _CONFIG).write_text(config.to_json(), encoding="utf-8")
        return replace(self, config=config)

"""A hub's data directory: the log's directory (key, config, database) plus hub settings.

Layout of ``DIR``::

    log.key, log.vkey, config.json, log.db    as ``detente.tlog.logdir.LogDir`` (the hub's log)
    hub.json                                  the hub settings below (absent: the defaults)

The witnesses and their quorum come from the group's genesis statement, not from here; a
witness's URL is the one genesis gives, unless ``config.json`` lists the same verifier key
with another URL (``detente log add-witness``), which wins.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from detente.errors import MalformedError
from detente.tlog.logdir import LogDir

__all__ = ["SETTINGS_FILE", "HubDir", "HubSettings"]

SETTINGS_FILE = "hub.json"


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Limits and timings of the hub; every one has a default."""

    #: Statements in one ``POST /v1/statements/batch``.
    max_batch: int = 1024
    #: Bytes of one batch request body (a single statement is bounded by the entry size).
    max_batch_body: int = 16 * 1024 * 1024
    #: Entries read in one ``GET /v1/entries``.
    max_entries: int = 1000
    #: Seconds a bearer token stays valid.
    token_ttl: int = 15 * 60
    #: Seconds a challenge stays valid.
    challenge_ttl: int = 60
    #: Seconds ``?wait=receipt`` waits for a published checkpoint before answering 202.
    receipt_wait: float = 10.0
    #: Sequencer pooling: entries per log batch and seconds a batch stays open.
    pool_size: int = 4096
    pool_delay: float = 0.005
    #: Store a state snapshot every this many entries (and on shutdown).
    snapshot_every: int = 10_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise MalformedError(f"hub setting {f.name} must be a number >= 0, not {value!r}")
        if self.max_batch < 1 or self.pool_size < 1 or self.max_entries < 1:
            raise MalformedError("max_batch, pool_size and max_entries must be at least 1")

    @classmethod
    def from_json(cls, text: str) -> HubSettings:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise MalformedError(f"hub settings are not JSON: {exc}") from exc
        known = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - known:
            unknown = sorted(set(raw) - known) if isinstance(raw, dict) else raw
            raise MalformedError(f"hub settings: unknown fields {unknown}")
        return cls(**raw)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


@dataclass(frozen=True, slots=True)
class HubDir:
    """An opened hub directory: its log directory and its settings."""

    path: Path
    log: LogDir
    settings: HubSettings

    @classmethod
    def create(cls, path: Path, origin: str, database: str | None = None) -> HubDir:
        """Create the log key, log config and default settings in ``path``."""
        log = LogDir.create(path, origin, database)
        settings = HubSettings()
        (path / SETTINGS_FILE).write_text(settings.to_json(), encoding="utf-8")
        return cls(path, log, settings)

    @classmethod
    def open(cls, path: Path) -> HubDir:
        log = LogDir.open(path)
        file = path / SETTINGS_FILE
        text = file.read_text(encoding="utf-8") if file.exists() else "{}"
        return cls(path, log, HubSettings.from_json(text))

    def witness_url(self, vkey: str, genesis_url: str | None) -> str:
        """Where to reach the witness with ``vkey``: the log config's URL, else genesis's."""
        for endpoint in self.log.config.witnesses:
            if endpoint.vkey == vkey:
                return endpoint.url
        if genesis_url:
            return genesis_url.rstrip("/")
        raise MalformedError(
            f"genesis gives no URL for witness {vkey.split('+', 1)[0]}; "
            f"add one with `detente log add-witness --data {self.path}`"
        )

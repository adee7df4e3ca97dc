"""A witness's data directory: its cosigner key, the logs it trusts and its state database.

Layout of ``DIR``::

    witness.key    the cosigner's Ed25519 private key, Go ``PRIVATE+KEY+...`` string, mode 0600
    witness.vkey   its cosignature/v1 verifier key (public; give it to logs and clients)
    logs.txt       one trusted log a line: ``<origin> <log vkey>``
    state.db       the SQLite state: the latest cosigned (size, root) of each origin
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from detente.crypto.keyfile import read_secret, write_secret
from detente.errors import MalformedError, NotFoundError
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Verifier, Verifier, parse_vkey

__all__ = ["WitnessConfig", "add_log", "init", "load"]

_KEY = "witness.key"
_VKEY = "witness.vkey"
_LOGS = "logs.txt"
_STATE = "state.db"


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """A loaded witness directory."""

    path: Path
    signer: CosignatureSigner
    logs: Mapping[str, Verifier]
    state_path: Path

    @property
    def vkey(self) -> str:
        return self.signer.vkey()


def init(directory: Path, name: str) -> str:
    """Create a witness named ``name`` in ``directory``; return its verifier key.

    Refuses to overwrite an existing key (:class:`ConflictError`).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    signer = CosignatureSigner.generate(name)
    write_secret(directory / _KEY, signer.skey())
    vkey = signer.vkey()
    (directory / _VKEY).write_text(vkey + "\n", encoding="utf-8")
    (directory / _LOGS).touch()
    return vkey


def add_log(directory: Path, vkey: str, origin: str | None = None) -> None:
    """Trust the log whose Ed25519 key is ``vkey`` for ``origin`` (default: the key's name)."""
    verifier = parse_vkey(vkey)
    if not isinstance(verifier, Ed25519Verifier):
        raise MalformedError(f"log key {verifier.name} is not an Ed25519 signed-note key")
    origin = verifier.name if origin is None else origin
    if not origin or any(c.isspace() for c in origin):
        raise MalformedError(f"log origin {origin!r} is empty or holds white space")
    logs = _read_logs(directory)
    logs[origin] = vkey.strip()
    text = "".join(f"{o} {k}\n" for o, k in sorted(logs.items()))
    tmp = directory / (_LOGS + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, directory / _LOGS)


def load(directory: Path) -> WitnessConfig:
    """Read a witness directory made by :func:`init`."""
    key_path = directory / _KEY
    if not key_path.exists():
        raise NotFoundError(f"{directory} holds no witness (no {_KEY})")
    signer = CosignatureSigner.from_skey(read_secret(key_path))
    logs = {origin: parse_vkey(vkey) for origin, vkey in _read_logs(directory).items()}
    return WitnessConfig(directory, signer, logs, directory / _STATE)


def _read_logs(directory: Path) -> dict[str, str]:
    path = directory / _LOGS
    if not path.exists():
        raise NotFoundError(f"{directory} holds no witness (no {_LOGS})")
    logs: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        origin, space, vkey = line.partition(" ")
        if not space or not origin or not vkey:
            raise MalformedError(f"{path} line {number} is not '<origin> <vkey>'")
        logs[origin] = vkey
    return logs

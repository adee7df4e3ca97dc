"""detente.witness.config: the witness data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from detente.errors import ConflictError, MalformedError, NotFoundError, StorageError
from detente.tlog.cosignature import CosignatureSigner, CosignatureVerifier
from detente.tlog.note import Ed25519Signer
from detente.witness import config


def test_public_api() -> None:
    assert set(config.__all__) == {"WitnessConfig", "add_log", "init", "load"}


def test_init_add_log_load(tmp_path: Path) -> None:
    directory = tmp_path / "witness"
    vkey = config.init(directory, "witness.example/w1")
    key_file = directory / "witness.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("PRIVATE+KEY+witness.example/w1+")
    assert (directory / "witness.vkey").read_text().strip() == vkey
    assert isinstance(CosignatureVerifier.from_vkey(vkey), CosignatureVerifier)

    log_a = Ed25519Signer.generate("a.example/log")
    log_b = Ed25519Signer.generate("b.example/log")
    config.add_log(directory, log_a.verifier().vkey())
    config.add_log(directory, log_b.verifier().vkey(), origin="b.example/other-origin")
    loaded = config.load(directory)
    assert loaded.vkey == vkey
    assert loaded.signer.key_id == CosignatureVerifier.from_vkey(vkey).key_id
    assert set(loaded.logs) == {"a.example/log", "b.example/other-origin"}
    assert loaded.logs["a.example/log"].key_id == log_a.key_id
    assert loaded.state_path == directory / "state.db"


def test_init_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    config.init(tmp_path, "w")
    with pytest.raises(ConflictError):
        config.init(tmp_path, "w")


def test_load_refuses_a_readable_key(tmp_path: Path) -> None:
    config.init(tmp_path, "w")
    (tmp_path / "witness.key").chmod(0o644)
    with pytest.raises(StorageError, match="0644"):
        config.load(tmp_path)


def test_load_of_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        config.load(tmp_path)


def test_add_log_refuses_a_cosigner_key(tmp_path: Path) -> None:
    config.init(tmp_path, "w")
    with pytest.raises(MalformedError):
        config.add_log(tmp_path, CosignatureSigner.generate("x").vkey())


def test_replacing_a_log_key(tmp_path: Path) -> None:
    config.init(tmp_path, "w")
    old = Ed25519Signer.generate("a.example/log")
    new = Ed25519Signer.generate("a.example/log")
    config.add_log(tmp_path, old.verifier().vkey())
    config.add_log(tmp_path, new.verifier().vkey())
    assert config.load(tmp_path).logs["a.example/log"].key_id == new.key_id

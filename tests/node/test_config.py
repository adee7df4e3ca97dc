"""The node's directory: only its owner may enter it (it holds decrypted content)."""

from __future__ import annotations

import stat
from pathlib import Path

from detente.node.config import NodeDir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_node_directory_is_private(tmp_path: Path) -> None:
    path = tmp_path / "node"
    path.mkdir(mode=0o755)
    path.chmod(0o755)  # whatever the umask
    NodeDir.create(path, "blueland", "http://127.0.0.1:1")
    assert _mode(path) == 0o700


def test_opening_a_node_directory_others_can_enter_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "node"
    NodeDir.create(path, "blueland", "http://127.0.0.1:1")
    path.chmod(0o755)  # e.g. made by an older version, or copied
    opened = NodeDir.open(path)
    assert _mode(path) == 0o700
    assert opened.config.party == "blueland"

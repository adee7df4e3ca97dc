"""Private key files: created 0600 and never overwritten, refused when others can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from detente.errors import ConflictError, StorageError

__all__ = ["read_secret", "write_secret"]


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 holding ``text``; an existing file is never overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConflictError(f"{path} already exists; refusing to overwrite a private key") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text.strip() + "\n")


def read_secret(path: Path) -> str:
    """The text of the private key file ``path``, refused if group or others may read it."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StorageError(f"{path} has mode {mode:04o}; a private key file must be 0600")
    return path.read_text(encoding="utf-8").strip()

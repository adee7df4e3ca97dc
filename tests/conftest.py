"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository root (this file is <root>/tests/conftest.py).
REPO_ROOT = Path(__file__).resolve().parent.parent


def vectors_path() -> Path:
    """Where the upstream test vectors are: $DETENTE_VECTORS, else ../shared/reference/vectors
    relative to the repository root. The folder may be absent (a user's checkout)."""
    configured = os.environ.get("DETENTE_VECTORS")
    if configured:
        return Path(configured)
    return (REPO_ROOT / ".." / "shared" / "reference" / "vectors").resolve()


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The upstream test-vector folder; skips the test when it does not exist."""
    path = vectors_path()
    if not path.is_dir():
        pytest.skip(f"upstream test vectors not found at {path} (set DETENTE_VECTORS)")
    return path

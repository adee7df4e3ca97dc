"""The ``detente`` command: one Typer app, one sub-app per process or object."""

from __future__ import annotations

from detente.cli._app import app

__all__ = ["app"]

"""What every command shares: the console, error reporting, the clock, running servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console

from detente.errors import DetenteError, VerificationError

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn Detente errors into one readable line and a non-zero exit status.

    Exit status 1: the input was refused or something failed; 2 is Typer's usage error;
    3: a verification failed (the input is well-formed but false).
    """
    try:
        yield
    except VerificationError as exc:
        err_console.print(f"[bold red]verification failed:[/] {exc}", soft_wrap=True)
        raise typer.Exit(3) from exc
    except DetenteError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}")


def wall_clock() -> int:
    """The POSIX time in whole seconds: the only clock the CLI hands to the core."""
    return int(time.time())

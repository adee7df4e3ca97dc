"""``detente verify-misbehaviour FILE``: check a node's proof that a hub misbehaved, offline.

Registered by the lead on the root app as ``verify-misbehaviour``.
Exit status 0: the proof shows misbehaviour of the log (attributable); 3: it does not verify
(or it is only a record the hub's key does not bind: ``bad-answer``); 1: it does not parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detente.cli._common import console, err_console, reported
from detente.node.misbehaviour import check_misbehaviour

__all__ = ["verify_misbehaviour_cmd"]


def verify_misbehaviour_cmd(
    file: Annotated[Path, typer.Argument(help="A proof file from a node's misbehaviour/ folder.")],
    log_key: Annotated[
        str | None,
        typer.Option(help="The log's verifier key you know (default: the one genesis names)."),
    ] = None,
) -> None:
    """Check a misbehaviour proof offline: conflicting checkpoints, a dropped entry under a
    receipt, or a logged statement the group rules refuse."""
    with reported():
        finding = check_misbehaviour(file.read_bytes(), log_key)
        if not finding.attributable:
            err_console.print(f"[bold yellow]not a proof:[/] {finding.kind}: {finding.summary}")
            raise typer.Exit(3)
        console.print(f"[bold red]misbehaviour proven[/] ({finding.kind}): {finding.summary}")

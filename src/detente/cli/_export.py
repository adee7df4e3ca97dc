"""``detente export``: a transcript bundle of an incident, agreement or range, from the node."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detente.cli._common import console, reported
from detente.cli._node import NodeOption
from detente.errors import MalformedError

__all__ = ["export_cmd"]


def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="The bundle file to write (JSON).")],
    incident: Annotated[str | None, typer.Option(help="An incident's id.")] = None,
    agreement: Annotated[str | None, typer.Option(help="An agreement's id.")] = None,
    range_: Annotated[
        str | None, typer.Option("--range", help="Entries A:B (A included, B excluded).")
    ] = None,
    node: NodeOption = Path("node"),
) -> None:
    """Write an offline-verifiable transcript (check it with `detente verify FILE`)."""
    from detente.node.api import subject_of
    from detente.node.instance import open_node

    with reported():
        start = end = None
        if range_ is not None:
            first, sep, last = range_.partition(":")
            if not sep or not first.isdigit() or not last.isdigit():
                raise MalformedError(f"--range is A:B with whole numbers, not {range_!r}")
            start, end = int(first), int(last)
        subject = subject_of(incident, agreement, start, end)
        with open_node(node) as opened:
            bundle = opened.export(subject)
        out.write_bytes(bundle.to_bytes())
        console.print(
            f"{subject.describe()}: {len(bundle.statements)} statement(s) under a checkpoint "
            f"of the log written to [bold]{out}[/]; check it with `detente verify {out}`"
        )

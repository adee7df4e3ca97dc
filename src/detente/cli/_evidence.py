"""``detente evidence get``: an incident's evidence files, fetched from the hub and verified.

The node downloads each file's blob (its SHA-256 checked), decrypts it with every identity it
ever had, and keeps it in NODE/evidence/ only if the file's SHA-256 and size are the ones the
incident names; ``--out DIR`` copies it there too. Only the incident's readers can: a sealed
incident's evidence is readable by the parties it is sealed to.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from detente.cli._common import console, err_console, reported
from detente.cli._node import NodeOption
from detente.errors import ConflictError, NotFoundError
from detente.statements.kinds import Evidence

__all__ = ["evidence_app"]

evidence_app = typer.Typer(
    help="Evidence files of incidents: fetched from the hub, decrypted, verified.",
    no_args_is_help=True,
)


@evidence_app.command("get")
def get(
    incident: Annotated[str, typer.Argument(help="The incident's id.")],
    name: Annotated[
        str | None,
        typer.Argument(help="One evidence file: its name or SHA-256 prefix (default: all)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also copy the files into this directory.")
    ] = None,
    node: NodeOption = Path("node"),
) -> None:
    """Fetch an incident's evidence from the hub, decrypt it, check its SHA-256; print where
    each file went."""
    from detente.group import views
    from detente.node.evidence import fetch_evidence, readable_evidence
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        opened.sync()
        state = opened.state()
        found = views.incident_thread(state, incident)
        listed = readable_evidence(state, opened.party, found, opened.opened(found.index))
        chosen = [e for e in listed if name is None or _named(e, name)]
        if not chosen:
            what = "no evidence" if name is None else f"no evidence named {name!r}"
            raise NotFoundError(f"incident {incident} has {what}")
        for evidence in chosen:
            path = fetch_evidence(opened, evidence, console=err_console)
            if out is not None:
                path = _copy(path, out, evidence)
            console.print(
                f"evidence {escape(evidence.name)} ({evidence.size} bytes, sha256 "
                f"{evidence.sha256.hex()[:16]}...) verified; written to "
                f"[bold]{escape(str(path))}[/]",
                soft_wrap=True,
            )


def _named(evidence: Evidence, name: str) -> bool:
    text = name.lower()
    return evidence.name == name or (len(text) >= 8 and evidence.sha256.hex().startswith(text))


def _copy(path: Path, out: Path, evidence: Evidence) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    from detente.node.evidence import safe_name

    target = out / safe_name(evidence.name)
    if target.exists():
        raise ConflictError(f"{target} exists; refusing to overwrite it")
    shutil.copyfile(path, target)
    return target

"""``detente show agreements|incidents|incident ID|log``: the node's verified view, as tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from detente.cli._common import console, reported
from detente.cli._node import NodeOption
from detente.group import views
from detente.statements.kinds import (
    Body,
    Evidence,
    IncidentNotify,
    IncidentRespond,
    Sealed,
    format_time,
)

if TYPE_CHECKING:
    from detente.node.instance import Node

__all__ = ["show_app"]

show_app = typer.Typer(
    help="Show what the log says (the node's verified copy).", no_args_is_help=True
)


@show_app.command("agreements")
def agreements(node: NodeOption = Path("node")) -> None:
    """Every agreement, its parties, norms and status."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        state = opened.state()
        table = Table(title=f"agreements of {state.name}")
        for column in ("id", "title", "status", "parties", "signed", "norms"):
            table.add_column(column)
        for found in sorted(state.agreements.values(), key=lambda a: a.id):
            table.add_row(
                found.id,
                found.title,
                state.agreement_status(found).value,
                ", ".join(found.parties),
                ", ".join(sorted(found.signatures)),
                ", ".join(found.norms),
            )
        console.print(table)


@show_app.command("incidents")
def incidents(node: NodeOption = Path("node")) -> None:
    """Every incident, who it is addressed to, and what is owed by when."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        state, now = opened.state(), opened.now()
        owed = views.deadlines(state, now)
        table = Table(title=f"incidents of {state.name}")
        for column in ("id", "from", "to", "purpose", "severity", "title", "owed"):
            table.add_column(column)
        for found in sorted(state.incidents.values(), key=lambda i: i.index):
            duties = [
                f"{d.party} {d.duty.value} by {format_time(d.due)}"
                + (" [bold red]OVERDUE[/]" if d.overdue else " (late)" if d.late else "")
                for d in owed
                if d.ref == found.id
            ]
            title = found.title
            if title is None:
                notice = _opened(opened, found.index, found.sealed)
                title = (
                    notice.title
                    if isinstance(notice, IncidentNotify)
                    else f"[yellow](sealed to {', '.join(_recipients(found.sealed))})[/]"
                )
            table.add_row(
                found.id,
                found.author,
                ", ".join(found.to),
                found.purpose.value,
                found.severity.value,
                title,
                "\n".join(duties) or "-",
            )
        console.print(table)


@show_app.command("incident")
def incident(
    incident_id: Annotated[str, typer.Argument(help="The incident's id.")],
    node: NodeOption = Path("node"),
) -> None:
    """One incident with its whole thread."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        state = opened.state()
        found = views.incident_thread(state, incident_id)
        notice = _opened(opened, found.index, found.sealed)
        head = Table(title=f"incident {found.id}", show_header=False)
        head.add_row("from", found.author)
        head.add_row("to", ", ".join(found.to))
        head.add_row("purpose", found.purpose.value)
        head.add_row("tlp", found.tlp.value)
        if isinstance(notice, IncidentNotify):
            head.add_row("sealed", f"to {', '.join(_recipients(found.sealed))} (opened here)")
            title, summary, evidence = notice.title, notice.summary, notice.evidence or ()
        else:
            title, summary, evidence = found.title, found.summary, found.evidence
        if title is None:
            why = notice if isinstance(notice, str) else _sealed_to(found.sealed)
            head.add_row("title", why)
            head.add_row("summary", why)
        else:
            head.add_row("title", title)
            head.add_row("summary", summary or "-")
        head.add_row("agreement", found.agreement or "-")
        head.add_row("norms", ", ".join(found.norms) or "-")
        for ev in evidence:
            head.add_row("evidence", _evidence_line(opened, ev))
        head.add_row("acknowledge by", format_time(found.acknowledge_by))
        head.add_row("answer by", format_time(found.answer_by))
        console.print(head)
        thread = Table(title="thread")
        for column in ("entry", "from", "at", "response", "text"):
            thread.add_column(column)
        for reply in found.thread:
            text = reply.text
            if text is None:
                answer = _opened(opened, reply.index, reply.sealed)
                text = answer.text if isinstance(answer, IncidentRespond) else str(answer or "")
            thread.add_row(str(reply.index), reply.author, format_time(reply.issued_at),
                           reply.response.value, text or "-")  # fmt: skip
        console.print(thread)


def _evidence_line(opened: Node, ev: Evidence) -> str:
    """Name, size, hash prefix, and where the file is: on the hub, here, or out of band."""
    from detente.node.evidence import find_evidence

    where = (
        f"on the hub (blob {ev.blob.hex()[:16]}...; `detente evidence get` fetches it)"
        if ev.blob is not None
        else "held out of band (not on the hub)"
    )
    held = find_evidence(opened.directory.path, ev)
    if held is not None:
        where += f"; held here: {held}"
    return (
        f"{escape(ev.name)} ({ev.media_type}, {ev.size} bytes) sha256 {ev.sha256.hex()[:16]}... "
        f"{escape(where)}"
    )


def _recipients(sealed: Sealed | None) -> tuple[str, ...]:
    return () if sealed is None else sealed.recipients


def _sealed_to(sealed: Sealed | None) -> str:
    if sealed is None:
        return "-"
    return (
        f"[yellow]sealed to {', '.join(sealed.recipients)} ({sealed.size} bytes)[/]: "
        "this node cannot read it"
    )


def _opened(opened: Node, index: int, sealed: Sealed | None) -> Body | str | None:
    """The opened body of a sealed entry, or why it is not shown (None: not sealed)."""
    from detente.node.vault import OpenStatus

    if sealed is None:
        return None
    found = opened.vault.get(index)
    if found is not None and found.status is OpenStatus.OPENED:
        return found.body()
    if found is not None and found.status is OpenStatus.INVALID:
        return f"[bold red]INVALID sealed content:[/] {found.detail}"
    if opened.party in sealed.recipients:
        return (
            f"[yellow]sealed to {', '.join(sealed.recipients)} ({sealed.size} bytes)[/]: not "
            "opened yet (`detente node sync` fetches it)"
        )
    return _sealed_to(sealed)


@show_app.command("log")
def log(
    node: NodeOption = Path("node"),
    last: Annotated[int, typer.Option(help="How many of the latest entries.")] = 20,
) -> None:
    """The latest entries of the verified log: index, author, seq, kind, time."""
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        size = opened.state().size
        start = max(0, size - max(1, last))
        table = Table(title=f"log entries {start}..{size - 1}")
        for column in ("index", "author", "seq", "kind", "issued at", "tlp"):
            table.add_column(column)
        for index, signed in opened.entries(start, size):
            s = signed.statement
            table.add_row(str(index), s.author, str(s.seq), s.kind, format_time(s.issued_at),
                          s.tlp.value)  # fmt: skip
        console.print(table)

"""``detente verify BUNDLE``: check a transcript bundle offline and print what it proves.

Exit status 0 when the bundle verifies, 3 when it is well-formed but does not verify, 1 when
it is malformed (or unreadable). ``detente export`` needs a node's store and lives with the
node; it calls :func:`detente.transcript.export.export_to_file`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from detente.cli._common import console, err_console, reported
from detente.errors import DetenteError, VerificationError
from detente.statements.kinds import format_time
from detente.transcript.report import DeadlineState, Transcript
from detente.transcript.verify import verify_bundle

_STATE_STYLE = {
    DeadlineState.MET: "green",
    DeadlineState.LATE: "yellow",
    DeadlineState.OVERDUE: "bold red",
    DeadlineState.OPEN: "cyan",
}


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else format_time(value)


def _header(t: Transcript) -> Table:
    table = Table(title="Transcript", show_header=False, title_justify="left")
    table.add_row("subject", escape(t.subject.describe()))
    table.add_row("group", escape(f"{t.group_title} ({t.group})"))
    table.add_row("log", escape(t.log_origin))
    table.add_row("log key", escape(t.log_vkey))
    table.add_row("checkpoint", f"size {t.size}, root {t.root.hex()}")
    for cosignature in t.cosignatures:
        table.add_row("cosigned by", escape(f"{cosignature.witness} at {_when(cosignature.time)}"))
    table.add_row("witness quorum", str(t.witness_quorum))
    table.add_row("as of", _when(t.as_of))
    return table


def _statements(t: Transcript) -> Table:
    # The statement is what a reader came for: it keeps most of a narrow terminal, the times
    # stack up instead. Sealed content reads "sealed to blueland, redland: <hash>, N bytes".
    table = Table(title="What was said", title_justify="left")
    table.add_column("#", no_wrap=True)
    table.add_column("logged by\nissued at", no_wrap=True)
    table.add_column("author, kind, TLP: statement", ratio=1)
    for row in t.rows:
        table.add_row(
            str(row.index),
            f"{_when(row.logged_by)}\n{_when(row.issued_at)}",
            f"[bold]{escape(row.author)}[/] {row.kind} TLP:{row.tlp}\n{escape(row.summary)}",
        )
    return table


def _deadlines(t: Transcript) -> Table:
    table = Table(title="Deadlines (judged at the final checkpoint's witnessed time)")
    for column in ("ref", "party", "duty", "owed to", "due", "status", "met by"):
        table.add_column(column)
    for d in t.deadlines:
        met = "-" if d.met_index is None else f"#{d.met_index}, logged by {_when(d.met_logged_by)}"
        style = _STATE_STYLE[d.state]
        table.add_row(
            escape(d.ref),
            escape(d.party),
            d.duty,
            escape(d.owed_to),
            _when(d.due),
            f"[{style}]{d.state.value}[/]",
            met,
        )
    return table


def verify_cmd(
    bundle: Annotated[Path, typer.Argument(help="A transcript bundle (detente-transcript/v1).")],
) -> None:
    """Check a transcript bundle with no network and print a readable transcript.

    Exit status 0 when it verifies, 3 when it is well-formed but false, 1 when malformed.
    """
    with reported():
        try:
            transcript = verify_bundle(bundle.read_bytes())
        except VerificationError:
            err_console.print("[bold red]verdict: DOES NOT VERIFY[/]")
            raise
        except DetenteError:
            err_console.print("[bold red]verdict: MALFORMED BUNDLE[/]")
            raise
        # The root of trust, unwrapped, for the reader to compare with what was published.
        console.print(
            f"genesis digest:      [bold]{transcript.genesis_digest.hex()}[/]", soft_wrap=True
        )
        console.print(
            f"log key fingerprint: [bold]{transcript.log_key_fingerprint}[/]", soft_wrap=True
        )
        console.print(_header(transcript))
        console.print(_statements(transcript))
        if transcript.key_history:
            keys = Table(title="Key history used", title_justify="left")
            for column in ("#", "logged by", "author", "kind", "statement"):
                keys.add_column(column)
            for row in transcript.key_history:
                keys.add_row(
                    str(row.index),
                    _when(row.logged_by),
                    escape(row.author),
                    row.kind,
                    escape(row.summary),
                )
            console.print(keys)
        if transcript.deadlines:
            console.print(_deadlines(transcript))
        for note in transcript.notes:
            console.print(f"[dim]note:[/] {escape(note)}")
        style = "bold red" if transcript.overdue else "bold green"
        console.print(f"[{style}]verdict:[/] {escape(transcript.verdict())}", soft_wrap=True)

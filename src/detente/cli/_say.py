"""``detente say ...``: the member's statements, composed from options a person understands.

Every command signs with the node's party key, submits to the hub, verifies the receipt and
prints where the statement is in the log. ``--dry-run`` prints exactly the statement JSON
that would be signed, and submits nothing.

TLP:AMBER, AMBER+STRICT and RED statements (the default for incidents, answers and
consultations is AMBER) are sealed: their confidential fields are encrypted to the author and
every party they address; ``--recipient PARTY`` (repeatable) adds readers. ``say reshare``
re-shares intelligence under the original's marking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from detente.cli._common import fail
from detente.cli._node import NodeOption, speak
from detente.errors import MalformedError
from detente.node.speaker import new_id
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
    ConsultationRecord,
    ConsultationRequest,
    ContactRole,
    Evidence,
    IncidentNotify,
    IncidentRespond,
    NormPropose,
    Pap,
    Ping,
    PingAck,
    Purpose,
    Response,
    Severity,
    Tlp,
    parse_time,
)

__all__ = ["evidence_of", "parse_duration", "say_app"]

say_app = typer.Typer(
    help="Say something for your party: sign, submit, keep the receipt.", no_args_is_help=True
)

_DURATION = re.compile(r"([0-9]+)\s*([mhdw])")
B = TypeVar("B", bound=BaseModel)
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

TlpOption = Annotated[
    Tlp, typer.Option("--tlp", case_sensitive=False, help="Traffic Light Protocol marking.")
]
PapOption = Annotated[
    Pap | None, typer.Option("--pap", case_sensitive=False, help="Permissible actions (PAP).")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the statement that would be signed; send nothing.")
]
PartiesOption = Annotated[list[str], typer.Option("--to", help="An addressee party (repeat).")]
RecipientOption = Annotated[
    list[str] | None,
    typer.Option(
        "--recipient",
        help="Another party to encrypt to (repeat); seals the statement even below AMBER.",
    ),
]


def parse_duration(text: str) -> dt.timedelta:
    """``72h``, ``3d``, ``90m``, ``1w``, or combined (``1d12h``); never zero."""
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise MalformedError(f"a duration looks like 72h, 3d, 90m or 1d12h, not {text!r}")
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise MalformedError(f"a duration must be positive, not {text!r}")
    return dt.timedelta(seconds=seconds)


def evidence_of(path: Path, media_type: str | None = None) -> Evidence:
    """A reference to an evidence file: SHA-256 of its bytes, size, name and media type."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    guessed = media_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Evidence(sha256=digest.digest(), name=path.name, media_type=guessed, size=size)


@say_app.command("propose-norm")
def propose_norm(
    norm_id: Annotated[str, typer.Argument(help="The norm's id, e.g. WG-NO-HACK-AND-LEAK.")],
    title: Annotated[str, typer.Option(help="A short title.")],
    text: Annotated[str, typer.Option(help="The norm's full text.")],
    provenance: Annotated[
        list[str] | None, typer.Option(help="A catalogue norm it derives from (repeat).")
    ] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.GREEN,
    pap: PapOption = None,
    dry_run: DryRun = False,
) -> None:
    """Propose a group-specific norm."""
    body = _build(
        NormPropose, id=norm_id, title=title, text=text, provenance=tuple(provenance or ())
    )
    speak(node, "norm.propose", body, tlp, pap, dry_run)


@say_app.command("propose-agreement")
def propose_agreement(
    agreement_id: Annotated[str, typer.Argument(help="The agreement's id (a slug).")],
    title: Annotated[str, typer.Option(help="The agreement's title.")],
    norm: Annotated[list[str], typer.Option("--norm", help="A norm it upholds (repeat).")],
    party: Annotated[list[str], typer.Option("--party", help="A party to it (repeat).")],
    answer_within: Annotated[
        str | None, typer.Option(help="Answer deadline for incidents under it, e.g. 72h.")
    ] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.GREEN,
    pap: PapOption = None,
    dry_run: DryRun = False,
) -> None:
    """Propose an agreement among parties to uphold norms (proposing counts as signing)."""
    hours = None
    if answer_within is not None:
        hours = max(1, int(_duration(answer_within).total_seconds()) // 3600)
    body = _build(
        AgreementPropose,
        id=agreement_id,
        title=title,
        norms=tuple(norm),
        parties=tuple(party),
        answer_hours=hours,
    )
    speak(node, "agreement.propose", body, tlp, pap, dry_run)


@say_app.command("sign")
def sign(
    agreement: Annotated[str, typer.Argument(help="The agreement to sign.")],
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.GREEN,
    dry_run: DryRun = False,
) -> None:
    """Sign an agreement another party proposed."""
    speak(node, "agreement.sign", _build(AgreementSign, agreement=agreement), tlp, None, dry_run)


@say_app.command("withdraw")
def withdraw(
    agreement: Annotated[str, typer.Argument(help="The agreement to withdraw from.")],
    reason: Annotated[str | None, typer.Option(help="Why, in words.")] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.GREEN,
    dry_run: DryRun = False,
) -> None:
    """Withdraw from an agreement."""
    body = _build(AgreementWithdraw, agreement=agreement, reason=reason)
    speak(node, "agreement.withdraw", body, tlp, None, dry_run)


@say_app.command("notify")
def notify(
    to: PartiesOption,
    purpose: Annotated[Purpose, typer.Option(help="Why you write.")],
    title: Annotated[str, typer.Option(help="A short title.")],
    summary: Annotated[str, typer.Option(help="What happened, in words.")],
    incident_id: Annotated[
        str | None, typer.Option("--id", help="The incident's id (default: inc-<time>-<rand>).")
    ] = None,
    severity: Annotated[Severity, typer.Option(help="How serious.")] = Severity.MEDIUM,
    agreement: Annotated[str | None, typer.Option(help="The agreement invoked.")] = None,
    norm: Annotated[
        list[str] | None, typer.Option("--norm", help="A norm broken (repeat).")
    ] = None,
    evidence: Annotated[
        list[Path] | None,
        typer.Option(
            "--evidence",
            help="An evidence file (repeat): encrypted to the incident's readers and uploaded "
            "to the hub, referenced by its hash.",
        ),
    ] = None,
    answer_within: Annotated[
        str | None, typer.Option(help="Answer deadline from now, e.g. 72h (default: policy).")
    ] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.AMBER,
    pap: PapOption = None,
    recipient: RecipientOption = None,
    dry_run: DryRun = False,
) -> None:
    """Notify parties of an incident (an allegation names the norms broken).

    At TLP:AMBER (the default) or above, the title, summary and evidence are sealed to you
    and the addressees (and every --recipient). Each --evidence file is encrypted on this
    node to the same readers (every member when the incident is not sealed) and uploaded to
    the hub before the incident is said; --dry-run only hashes it."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    answer_by = None if answer_within is None else now + _duration(answer_within)
    fields: dict[str, Any] = {
        "id": incident_id or _fresh("inc", now),
        "purpose": purpose,
        "to": tuple(to),
        "title": title,
        "summary": summary,
        "severity": severity,
        "agreement": agreement,
        "norms": tuple(norm or ()),
        "answer_by": answer_by,
    }
    body = _build(IncidentNotify, **fields, evidence=())  # every option checked before uploads
    files = list(evidence or ())
    if files:
        # The files' own hashes first: the group rules judge the incident (dry run) before
        # anything is encrypted or uploaded, so a refused incident leaves nothing on the hub.
        probe = _build(IncidentNotify, **fields, evidence=tuple(_evidence(p) for p in files))
        refs = None if dry_run else _attached(node, files, probe, tlp, recipient)
        body = _build(IncidentNotify, **fields, evidence=refs or probe.evidence)
    speak(node, "incident.notify", body, tlp, pap, dry_run, recipient)


def _attached(
    node: Path, files: list[Path], probe: IncidentNotify, tlp: Tlp, recipients: list[str] | None
) -> tuple[Evidence, ...]:
    """Each file sealed to the incident's readers and uploaded (progress on stderr), once the
    group rules accept ``probe`` (the incident with the files' hashes as its evidence)."""
    from rich.markup import escape

    from detente.cli._common import err_console, reported
    from detente.node.evidence import attach_evidence, incident_readers
    from detente.node.instance import open_node

    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="--evidence")
    with reported(), open_node(node) as opened:
        opened.speaker.check("incident.notify", probe, tlp=tlp, recipients=recipients)
        readers = incident_readers(
            opened.state(), opened.party, probe.to, tlp=tlp, recipients=recipients or ()
        )
        refs = []
        for path in files:
            ref = attach_evidence(opened, path, readers, console=err_console)
            assert ref.blob is not None
            err_console.print(
                f"evidence {escape(ref.name)} ({ref.size} bytes) encrypted to "
                f"{', '.join(readers)}; on the hub as blob {ref.blob.hex()[:16]}...",
                soft_wrap=True,
            )
            refs.append(ref)
    return tuple(refs)


@say_app.command("respond")
def respond(
    incident: Annotated[str, typer.Argument(help="The incident you answer.")],
    response: Annotated[Response, typer.Option(help="What kind of answer.")],
    text: Annotated[str, typer.Option(help="Your answer, in words.")],
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.AMBER,
    pap: PapOption = None,
    recipient: RecipientOption = None,
    dry_run: DryRun = False,
) -> None:
    """Respond to an incident addressed to you (sealed to you and its author at AMBER+)."""
    body = _build(IncidentRespond, incident=incident, response=response, text=text)
    speak(node, "incident.respond", body, tlp, pap, dry_run, recipient)


@say_app.command("consult")
def consult(
    with_party: Annotated[list[str], typer.Option("--with", help="A party to meet (repeat).")],
    agenda: Annotated[str, typer.Option(help="What to discuss.")],
    consultation_id: Annotated[
        str | None, typer.Option("--id", help="The consultation's id (default: generated).")
    ] = None,
    incident: Annotated[str | None, typer.Option(help="The incident it is about.")] = None,
    at: Annotated[
        list[str] | None, typer.Option("--at", help="A proposed time, 2026-11-27T21:00:00Z.")
    ] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.AMBER,
    recipient: RecipientOption = None,
    dry_run: DryRun = False,
) -> None:
    """Request a consultation with parties (the agenda is sealed at AMBER+)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = _build(
        ConsultationRequest,
        id=consultation_id or _fresh("consult", now),
        with_parties=tuple(with_party),
        agenda=agenda,
        incident=incident,
        proposed_times=tuple(_time(t) for t in at or ()),
    )
    speak(node, "consultation.request", body, tlp, None, dry_run, recipient)


@say_app.command("record")
def record(
    consultation: Annotated[str, typer.Argument(help="The consultation held.")],
    held_at: Annotated[str, typer.Option(help="When, e.g. 2026-11-27T21:00:00Z.")],
    participant: Annotated[
        list[str], typer.Option("--participant", help="A party present (repeat).")
    ],
    summary: Annotated[str, typer.Option(help="What was said.")],
    outcome: Annotated[str | None, typer.Option(help="What was agreed.")] = None,
    node: NodeOption = Path("node"),
    tlp: TlpOption = Tlp.AMBER,
    recipient: RecipientOption = None,
    dry_run: DryRun = False,
) -> None:
    """Record a consultation that took place (summary and outcome sealed at AMBER+)."""
    body = _build(
        ConsultationRecord,
        consultation=consultation,
        held_at=_time(held_at),
        participants=tuple(participant),
        summary=summary,
        outcome=outcome,
    )
    speak(node, "consultation.record", body, tlp, None, dry_run, recipient)


@say_app.command("ping")
def ping(
    to: PartiesOption,
    role: Annotated[ContactRole, typer.Option(help="Which point of contact to test.")] = (
        ContactRole.TECHNICAL
    ),
    within: Annotated[str, typer.Option(help="Reply deadline, e.g. 30m or 2h.")] = "1h",
    ping_id: Annotated[str | None, typer.Option("--id", help="Default: generated.")] = None,
    node: NodeOption = Path("node"),
    dry_run: DryRun = False,
) -> None:
    """Test the addressees' points of contact; their nodes answer with ping.ack."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    minutes = max(1, int(_duration(within).total_seconds()) // 60)
    body = _build(Ping, id=ping_id or _fresh("ping", now), to=tuple(to), role=role,
                reply_within_minutes=minutes)  # fmt: skip
    speak(node, "ping", body, Tlp.GREEN, None, dry_run)


@say_app.command("ack")
def ack(
    ping_id: Annotated[str, typer.Argument(help="The ping to acknowledge.")],
    node: NodeOption = Path("node"),
    dry_run: DryRun = False,
) -> None:
    """Acknowledge a ping by hand (``node serve`` does it automatically unless turned off)."""
    speak(node, "ping.ack", _build(PingAck, ping=ping_id), Tlp.GREEN, None, dry_run)


@say_app.command("reshare")
def reshare(
    index: Annotated[int, typer.Argument(help="The log index of the intel.share to re-share.")],
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="A party to share it with (repeat; none: the whole group)."),
    ] = None,
    tlp: Annotated[
        Tlp,
        typer.Option(
            "--tlp", case_sensitive=False, help="The marking: never below the original's."
        ),
    ] = Tlp.AMBER,
    pap: PapOption = None,
    node: NodeOption = Path("node"),
) -> None:
    """Re-share intelligence you were given, within its original marking.

    Refused before anything is decrypted or sent when you were not given it, when the TLP
    would be lowered, or when the original's marking excludes a party you name.
    """
    from detente.cli._common import reported
    from detente.cli._node import print_said
    from detente.node.instance import open_node

    with reported(), open_node(node) as opened:
        opened.sync()
        said = opened.reshare(index, list(to or []), tlp, pap)
        print_said(said, "intel.share", opened.party)


def _fresh(prefix: str, now: dt.datetime) -> str:
    return new_id(prefix, now)


def _build(cls: type[B], **fields: Any) -> B:
    """The body, or one readable line per invalid option (exit status 2, a usage error)."""
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or cls.__name__}: {e['msg']}"
            for e in exc.errors(include_url=False)[:3]
        )
        fail(f"invalid {cls.__name__}: {shown}", 2)


def _duration(text: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except MalformedError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _evidence(path: Path) -> Evidence:
    try:
        return evidence_of(path)
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror or exc}") from exc


def _time(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

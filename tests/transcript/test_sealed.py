"""Transcripts of sealed statements: hashes, sizes and recipients only, judged like any other.

The log here is real (LogStore + Sequencer); the sealed references name made-up ciphertexts
(a bundle never needs the ciphertext, and holds no plaintext).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.cli import app
from detente.errors import VerificationError
from detente.group import apply, genesis
from detente.statements.kinds import (
    ConsultationRequest,
    IncidentNotify,
    IncidentRespond,
    Purpose,
    Response,
    Sealed,
    Severity,
    Tlp,
)
from detente.statements.sealing import public_body
from detente.transcript import DeadlineState, Subject, verify_bundle
from group.scenario import BLUELAND, REDLAND, Chain, build_genesis
from transcript.seedlog import LOG_SIGNER, ORIGIN, START, WITNESS_KEYS, export, open_log

MINUTE = dt.timedelta(minutes=1)
INCIDENT = "inc-sealed-1"
SECRET_TITLE = "Intrusion into the ministry's mail via a supplier VPN"
SECRET_TEXT = "We found the implant and removed it; logs attached."
NOTICE = Sealed(
    blob=hashlib.sha256(b"age file of the notice").digest(),
    size=1234,
    recipients=(BLUELAND, REDLAND),
)
REQUEST = Sealed(
    blob=hashlib.sha256(b"age file of the request").digest(),
    size=321,
    recipients=(BLUELAND, REDLAND),
)
ANSWER = Sealed(
    blob=hashlib.sha256(b"age file of the answer").digest(),
    size=567,
    recipients=(BLUELAND, REDLAND),
)


def _notice(to: tuple[str, ...] = (REDLAND,)) -> IncidentNotify:
    return IncidentNotify(
        id=INCIDENT,
        purpose=Purpose.REQUEST_FOR_ASSISTANCE,
        to=to,
        title=SECRET_TITLE,
        summary="Mail was read for three weeks.",
        severity=Severity.HIGH,
        norms=(),
        evidence=(),
    )


def sealed_entries(
    *, notice: Sealed = NOTICE, answer: Sealed = ANSWER, clear_amber: bool = False
) -> list[bytes]:
    chain = Chain()
    body = build_genesis(
        START, log_origin=ORIGIN, log_vkey=LOG_SIGNER.vkey(), witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )  # fmt: skip
    entries = [chain.genesis(body, START, [BLUELAND, REDLAND])]
    notify = _notice() if clear_amber else public_body(_notice(), notice)
    entries.append(chain.make(BLUELAND, notify, START + MINUTE, tlp=Tlp.AMBER))
    reply = IncidentRespond(incident=INCIDENT, response=Response.ANSWER, text=SECRET_TEXT)
    entries.append(chain.make(REDLAND, public_body(reply, answer), START + 2 * MINUTE, tlp=Tlp.RED))
    request = ConsultationRequest(
        id="consult-sealed-1",
        with_parties=(REDLAND,),
        agenda="Compare the implant samples.",
        incident=INCIDENT,
        proposed_times=(),
    )
    # About the AMBER incident, so at least AMBER and sealed within its readers.
    request_body = public_body(request, REQUEST)
    entries.append(chain.make(BLUELAND, request_body, START + 3 * MINUTE, tlp=Tlp.AMBER))
    return entries


def _bundle_bytes(tmp_path: Path, entries: list[bytes]) -> bytes:
    log = open_log(tmp_path, [(entries, START + 10 * MINUTE)])
    return export(log, Subject.incident(INCIDENT)).to_bytes()


def test_the_sealed_log_is_valid_under_the_group_rules() -> None:
    entries = sealed_entries()
    state = genesis(entries[0])
    for entry in entries[1:]:
        state = apply(state, entry, at=START + 10 * MINUTE)
    assert state.incidents[INCIDENT].sealed == NOTICE


def test_a_transcript_shows_sealed_content_as_hash_size_and_recipients(tmp_path: Path) -> None:
    data = _bundle_bytes(tmp_path, sealed_entries())
    # The bundle carries the log's entries and nothing else: no plaintext.
    assert SECRET_TITLE.encode() not in data
    assert SECRET_TEXT.encode() not in data
    t = verify_bundle(data)
    notice, answer, request = t.rows
    assert notice.sealed == NOTICE
    assert notice.tlp == "AMBER"
    assert f"sealed to blueland, redland: {NOTICE.blob.hex()[:12]}, 1234 bytes" in notice.summary
    assert "request-for-assistance to redland" in notice.summary
    assert "evidence" not in notice.summary  # how many files is sealed too
    assert answer.sealed == ANSWER
    assert answer.summary == (
        f"answer on {INCIDENT}: sealed to blueland, redland: {ANSWER.blob.hex()[:12]}, 567 bytes"
    )
    assert request.sealed == REQUEST
    assert "Compare the implant samples." not in request.summary
    assert f"sealed to blueland, redland: {REQUEST.blob.hex()[:12]}, 321 bytes" in request.summary
    # Deadlines are judged on the readable fields, as for any incident.
    assert [(d.duty, d.state) for d in t.deadlines] == [
        ("acknowledge", DeadlineState.MET),
        ("answer", DeadlineState.MET),
    ]
    assert t.deadlines[1].due == START + MINUTE + dt.timedelta(hours=72)
    assert any("3 statement(s) carry sealed content (entries 1, 2, 3)" in n for n in t.notes)


def test_detente_verify_prints_the_sealed_line(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    path.write_bytes(_bundle_bytes(tmp_path, sealed_entries()))
    result = CliRunner().invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    flat = re.sub(r"[\s│]+", " ", result.output)  # the table wraps the line at 80 columns
    assert f"sealed to blueland, redland: {ANSWER.blob.hex()[:12]}, 567 bytes" in flat
    assert "carry sealed content" in flat
    assert SECRET_TEXT not in result.output


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        (lambda: sealed_entries(clear_amber=True), "TLP:AMBER content is in the clear"),
        (
            lambda: sealed_entries(
                notice=Sealed(blob=NOTICE.blob, size=1234, recipients=(BLUELAND,))
            ),
            "cannot be read by redland",
        ),
        (
            lambda: sealed_entries(
                answer=Sealed(blob=ANSWER.blob, size=567, recipients=(REDLAND,))
            ),
            "blueland raised inc-sealed-1 but cannot read this answer",
        ),
    ],
    ids=["amber-in-the-clear", "addressee-cannot-read", "raiser-cannot-read"],
)
def test_markings_the_hub_should_have_refused_are_caught(
    tmp_path: Path, entries: object, why: str
) -> None:
    assert callable(entries)
    with pytest.raises(VerificationError, match=why):
        verify_bundle(_bundle_bytes(tmp_path, entries()))

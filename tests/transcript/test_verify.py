"""verify_bundle on bundles exported from a real log (LogStore + Sequencer on SQLite)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from detente.errors import (
    MalformedError,
    QuorumError,
    RootMismatchError,
    SignatureError,
    VerificationError,
)
from detente.group import apply, genesis
from detente.statements.kinds import (
    ContactUpdate,
    IncidentNotify,
    IncidentRespond,
    PartyAdmit,
    PartyRotateKeys,
    Purpose,
    Response,
    Severity,
)
from detente.statements.payload import entry_hash
from detente.tlog.note import Note
from detente.transcript import Bundle, DeadlineState, LoggedEntry, Subject, verify_bundle
from group.scenario import (
    ACCORD,
    BLUELAND,
    INCIDENT,
    REDLAND,
    Chain,
    build_genesis,
    build_seed_scenario,
    party_keys,
    public_key,
)
from transcript.seedlog import (
    LOG_SIGNER,
    ORIGIN,
    START,
    WITNESS,
    WITNESS_KEYS,
    SeedLog,
    cosign,
    export,
    open_log,
    seed_batches,
)

MINUTE = dt.timedelta(minutes=1)
ALLEGED = START + 5 * MINUTE


def seed_entries() -> list[bytes]:
    return build_seed_scenario(
        START, log_origin=ORIGIN, log_vkey=LOG_SIGNER.vkey(), witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seed_log(tmp_path_factory: pytest.TempPathFactory) -> SeedLog:
    return open_log(tmp_path_factory.mktemp("seed"), seed_batches(seed_entries()))


@pytest.fixture(scope="module")
def incident_bundle(seed_log: SeedLog) -> Bundle:
    return export(seed_log, Subject.incident(INCIDENT))


def test_seed_incident_verifies(incident_bundle: Bundle) -> None:
    t = verify_bundle(incident_bundle.to_bytes())
    assert [r.index for r in t.rows] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert [r.kind for r in t.rows][-4:] == [
        "incident.notify", "incident.respond", "consultation.request", "consultation.record",
    ]  # fmt: skip
    assert t.size == 12
    assert t.genesis_digest == entry_hash(seed_entries()[0])
    assert t.log_vkey == LOG_SIGNER.vkey()
    assert t.key_history == ()
    # Logged by: the witnessed time of the first checkpoint covering each entry.
    logged = {r.index: r.logged_by for r in t.rows}
    assert logged[7] == START + 4 * MINUTE + dt.timedelta(seconds=30)
    assert logged[8] == ALLEGED + dt.timedelta(seconds=30)
    assert logged[11] == START + 9 * MINUTE + dt.timedelta(seconds=30)
    assert t.as_of == logged[11]
    assert [(d.party, d.duty, d.state) for d in t.deadlines] == [
        (REDLAND, "acknowledge", DeadlineState.MET),
        (REDLAND, "answer", DeadlineState.MET),
    ]
    assert t.deadlines[1].due == ALLEGED + dt.timedelta(hours=72)
    assert t.deadlines[1].met_index == 9
    assert t.overdue == ()
    assert t.verdict().startswith("VALID: 9 statement(s) about incident")


def test_agreement_and_range_subjects(seed_log: SeedLog) -> None:
    t = verify_bundle(export(seed_log, Subject.agreement(ACCORD)).to_bytes())
    assert [r.kind for r in t.rows] == ["norm.propose"] * 3 + [
        "agreement.propose", "agreement.sign",
    ]  # fmt: skip
    whole = verify_bundle(export(seed_log, Subject.range(1, 12)).to_bytes())
    assert [r.index for r in whole.rows] == list(range(1, 12))
    assert not any("left out" in n for n in whole.notes)  # a range to the end is complete
    part = verify_bundle(export(seed_log, Subject.range(8, 10), earlier=False).to_bytes())
    assert [r.index for r in part.rows] == [8, 9]
    # Without earlier checkpoints everything is "logged by" the final one.
    assert {r.logged_by for r in part.rows} == {part.as_of}


@pytest.mark.parametrize(
    ("hours", "acknowledge", "answer"),
    [
        (23, DeadlineState.OPEN, DeadlineState.OPEN),
        (25, DeadlineState.OVERDUE, DeadlineState.OPEN),
        (73, DeadlineState.OVERDUE, DeadlineState.OVERDUE),
    ],
)
def test_overdue_is_judged_at_the_final_witnessed_time(
    tmp_path: Path, hours: int, acknowledge: DeadlineState, answer: DeadlineState
) -> None:
    # The log stops after the allegation: Redland never answered.
    log = open_log(tmp_path, seed_batches(seed_entries()[:9]))
    log.recosign_final(ALLEGED + dt.timedelta(hours=hours))
    t = verify_bundle(export(log, Subject.incident(INCIDENT)).to_bytes())
    assert t.as_of == ALLEGED + dt.timedelta(hours=hours)
    assert [(d.duty, d.state) for d in t.deadlines] == [
        ("acknowledge", acknowledge),
        ("answer", answer),
    ]
    assert ("OVERDUE" in t.verdict()) == (acknowledge is DeadlineState.OVERDUE)


def test_a_late_answer_is_late_by_its_witnessed_time(tmp_path: Path) -> None:
    entries = seed_entries()
    # The denial (issued 6 minutes in, as it claims) is only logged 80 hours later.
    batches = [(entries[:9], ALLEGED), (entries[9:10], ALLEGED + dt.timedelta(hours=80))]
    t = verify_bundle(export(open_log(tmp_path, batches), Subject.incident(INCIDENT)).to_bytes())
    assert [d.state for d in t.deadlines] == [DeadlineState.LATE, DeadlineState.LATE]
    assert t.deadlines[0].met_issued_at == START + 6 * MINUTE


# -- key history: an admitted party that rotated its key --------------------------------

GREEN = "greenland"


def green_entries(*, extra: bool = False) -> list[bytes]:
    chain = Chain()
    body = build_genesis(
        START, log_origin=ORIGIN, log_vkey=LOG_SIGNER.vkey(), witnesses=WITNESS_KEYS,
        witness_quorum=1,
    )  # fmt: skip
    entries = [chain.genesis(body, START, [BLUELAND, REDLAND])]
    admit = PartyAdmit(party=party_keys(GREEN))
    entries.append(chain.make(BLUELAND, admit, START + MINUTE))
    entries.append(chain.make(REDLAND, admit, START + 2 * MINUTE))
    rotate = PartyRotateKeys(
        signing_key=public_key("greenland/2"), encryption_key="age1" + "s" * 58
    )
    entries.append(chain.make(GREEN, rotate, START + 3 * MINUTE, signers=[GREEN, "greenland/2"]))
    chain.keys[GREEN] = "greenland/2"
    notify = IncidentNotify(
        id="inc-green", purpose=Purpose.NOTIFICATION, to=(GREEN,), title="Scanning",
        summary="Scans from your space.", severity=Severity.LOW, norms=(), evidence=(),
    )  # fmt: skip
    entries.append(chain.make(BLUELAND, notify, START + 4 * MINUTE))
    entries.append(chain.make(REDLAND, ContactUpdate(contacts=()), START + 5 * MINUTE))
    ack = IncidentRespond(incident="inc-green", response=Response.ACKNOWLEDGE, text="Seen.")
    entries.append(chain.make(GREEN, ack, START + 6 * MINUTE))
    if extra:  # the author answering its own incident: the rules forbid it
        entries.append(chain.make(BLUELAND, ack, START + 7 * MINUTE))
    return entries


def test_green_log_is_valid_under_the_group_rules() -> None:
    entries = green_entries()
    state = genesis(entries[0])
    for entry in entries[1:]:
        state = apply(state, entry, at=START + MINUTE * 10)
    assert state.parties[GREEN].signing_key == public_key("greenland/2")


def test_key_history_is_exported_and_used(tmp_path: Path) -> None:
    log = open_log(tmp_path, [(green_entries(), START + 10 * MINUTE)])
    bundle = export(log, Subject.incident("inc-green"))
    assert [e.index for e in bundle.key_history] == [1, 2, 3]
    assert [e.index for e in bundle.statements] == [4, 6]
    t = verify_bundle(bundle.to_bytes())
    assert [r.kind for r in t.key_history] == ["party.admit", "party.admit", "party.rotate-keys"]
    assert [(d.duty, d.state) for d in t.deadlines] == [
        ("acknowledge", DeadlineState.MET),
        ("answer", DeadlineState.OPEN),
    ]
    # Without the rotation, greenland's reply is signed by a key the reader does not know.
    no_rotation = dataclasses.replace(bundle, key_history=bundle.key_history[:2])
    with pytest.raises(SignatureError, match="entry 6"):
        verify_bundle(no_rotation.to_bytes())
    # Without the second vote, greenland was never admitted.
    no_admission = dataclasses.replace(bundle, key_history=bundle.key_history[:1])
    with pytest.raises(VerificationError, match="admission"):
        verify_bundle(no_admission.to_bytes())


def test_a_rule_the_hub_should_have_refused_is_caught(tmp_path: Path) -> None:
    log = open_log(tmp_path, [(green_entries(extra=True), START + 10 * MINUTE)])
    with pytest.raises(VerificationError, match="not addressed"):
        verify_bundle(export(log, Subject.incident("inc-green")).to_bytes())


# -- bundles that lie -------------------------------------------------------------------


def test_padding_with_unrelated_statements_is_refused(
    seed_log: SeedLog, incident_bundle: Bundle
) -> None:
    whole = export(seed_log, Subject.range(1, 12))
    padded = dataclasses.replace(incident_bundle, statements=whole.statements)
    with pytest.raises(VerificationError, match="is not about incident"):
        verify_bundle(padded.to_bytes())


def test_missing_opening_statement_is_refused(incident_bundle: Bundle) -> None:
    without = tuple(e for e in incident_bundle.statements if e.index != 8)
    with pytest.raises(VerificationError, match="lacks the statement that opens"):
        verify_bundle(dataclasses.replace(incident_bundle, statements=without).to_bytes())


def test_a_range_must_be_whole(seed_log: SeedLog) -> None:
    bundle = export(seed_log, Subject.range(1, 12))
    holed = dataclasses.replace(bundle, statements=bundle.statements[1:])
    subject = dataclasses.replace(bundle, subject=Subject.range(1, 13))
    with pytest.raises(VerificationError, match="lacks entries"):
        verify_bundle(holed.to_bytes())
    with pytest.raises(VerificationError, match="beyond"):
        verify_bundle(subject.to_bytes())


def test_an_entry_moved_to_another_index_fails(incident_bundle: Bundle) -> None:
    first = incident_bundle.statements[0]
    moved = LoggedEntry(2, first.entry, first.proof)
    bundle = dataclasses.replace(
        incident_bundle, statements=(moved, *incident_bundle.statements[1:])
    )
    with pytest.raises(RootMismatchError):
        verify_bundle(bundle.to_bytes())


def test_checkpoint_without_cosignature_fails_the_quorum(incident_bundle: Bundle) -> None:
    note = Note.from_bytes(incident_bundle.checkpoint)
    bare = Note(note.text, note.signatures[:1]).to_bytes()
    with pytest.raises(QuorumError):
        verify_bundle(dataclasses.replace(incident_bundle, checkpoint=bare).to_bytes())


def test_a_signature_the_reader_cannot_check_is_refused(incident_bundle: Bundle) -> None:
    note = Note.from_bytes(incident_bundle.checkpoint)
    stranger = dataclasses.replace(note.signatures[-1], name="witness.example/unknown")
    noisy = Note(note.text, (*note.signatures, stranger)).to_bytes()
    with pytest.raises(VerificationError, match="keys the genesis does not name"):
        verify_bundle(dataclasses.replace(incident_bundle, checkpoint=noisy).to_bytes())


def test_a_recosigned_time_changes_only_the_time(incident_bundle: Bundle) -> None:
    later = ALLEGED + dt.timedelta(hours=100)
    bundle = dataclasses.replace(
        incident_bundle, checkpoint=cosign(incident_bundle.checkpoint, later)
    )
    assert verify_bundle(bundle.to_bytes()).as_of == later


def test_earlier_checkpoints_must_increase(incident_bundle: Bundle) -> None:
    earlier = incident_bundle.earlier
    assert len(earlier) >= 2
    swapped = dataclasses.replace(incident_bundle, earlier=(earlier[1], earlier[0], *earlier[2:]))
    with pytest.raises(MalformedError, match="sizes must increase"):
        verify_bundle(swapped.to_bytes())


def test_a_genesis_that_is_not_entry_zero_fails(incident_bundle: Bundle) -> None:
    other = dataclasses.replace(
        incident_bundle,
        genesis=LoggedEntry(0, incident_bundle.statements[0].entry, incident_bundle.genesis.proof),
    )
    with pytest.raises(VerificationError):
        verify_bundle(other.to_bytes())


def test_witness_name_is_reported(incident_bundle: Bundle) -> None:
    t = verify_bundle(incident_bundle.to_bytes())
    assert [c.witness for c in t.cosignatures] == [WITNESS.name]

"""Hypothesis: random mixes of valid and invalid statements replay to the same digest, and a
rejected statement never changes the state."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente.errors import RejectedError
from detente.group import GroupState, apply, genesis
from detente.statements.kinds import (
    AgreementPropose,
    AgreementSign,
    AgreementWithdraw,
    Body,
    ContactRole,
    IncidentNotify,
    IncidentRespond,
    PartyAdmit,
    PartyLeave,
    Ping,
    PingAck,
    Purpose,
    Response,
    Severity,
)
from detente.statements.payload import entry_hash, open_entry
from group.scenario import Chain, build_genesis, party_keys
from group.world import START

PARTIES = ("blueland", "redland", "greenland", "yellowland")
IDS = ("a", "b", "c")


def _body(kind: str, author: str, other: str, ident: str) -> Body:
    if kind == "ping":
        return Ping(id=ident, to=(other,), role=ContactRole.TECHNICAL, reply_within_minutes=5)
    if kind == "ack":
        return PingAck(ping=ident)
    if kind == "propose":
        return AgreementPropose(id=ident, title="A", norms=("PARIS-P3",), parties=(author, other))
    if kind == "sign":
        return AgreementSign(agreement=ident)
    if kind == "withdraw":
        return AgreementWithdraw(agreement=ident)
    if kind == "notify":
        return IncidentNotify(
            id=ident,
            purpose=Purpose.ALLEGATION,
            to=(other,),
            title="T",
            summary="S",
            severity=Severity.LOW,
            agreement=ident,
            norms=("PARIS-P3",),
            evidence=(),
        )
    if kind == "respond":
        return IncidentRespond(incident=ident, response=Response.DENY, text="No.")
    if kind == "admit":
        return PartyAdmit(party=party_keys("yellowland"))
    return PartyLeave()


_actions = st.lists(
    st.tuples(
        st.sampled_from(PARTIES),
        st.sampled_from(PARTIES),
        st.sampled_from(
            ("ping", "ack", "propose", "sign", "withdraw", "notify", "respond", "admit", "leave")
        ),
        st.sampled_from(IDS),
        st.sampled_from(("valid", "valid", "valid", "wrong-key", "gap", "backwards", "replay")),
    ),
    max_size=25,
)


def _run(actions: list[tuple[str, str, str, str, str]]) -> tuple[list[bytes], GroupState]:
    chain = Chain()
    founders = PARTIES[:3]
    state = genesis(chain.genesis(build_genesis(START, parties=founders), START, founders))
    entries: list[bytes] = []
    now = START
    for author, other, kind, ident, tamper in actions:
        now += dt.timedelta(minutes=1)
        if tamper == "replay" and entries:
            entry = entries[-1]
        else:
            options: dict[str, object] = {}
            if tamper == "wrong-key":
                options["signers"] = [other if other != author else "blueland/2"]
            elif tamper == "gap":
                options["seq"] = chain.heads.get(author, (0, None))[0] + 2
                options["prev"] = b"\x01" * 32
            elif tamper == "backwards":
                now -= dt.timedelta(minutes=30)
            body = _body(kind, author, other, ident)
            entry = chain.make(author, body, now, advance=False, **options)  # type: ignore[arg-type]
        entries.append(entry)
        before = state.digest()
        try:
            state = apply(state, entry, at=now)
        except RejectedError:
            assert state.digest() == before
            continue
        statement = open_entry(entry).statement
        chain.heads[statement.author] = (statement.seq, entry_hash(entry))
    return entries, state


def _replay(entries: list[bytes], first: bytes) -> GroupState:
    state = genesis(first)
    for entry in entries:
        before = state
        digest = before.digest()
        try:
            state = apply(state, entry, at=START + dt.timedelta(days=365))
        except RejectedError:
            assert state is before
            assert state.digest() == digest
    return state


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_actions)
def test_random_statements_replay_to_the_same_digest(actions: list) -> None:
    entries, state = _run(actions)
    chain = Chain()
    founders = PARTIES[:3]
    first = chain.genesis(build_genesis(START, parties=founders), START, founders)
    replayed = [_replay(entries, first), _replay(entries, first)]
    assert replayed[0].digest() == replayed[1].digest()
    # Time-reversed statements were judged at their own (earlier) "at"; in a replay a later
    # "at" changes nothing, since only future-dating depends on it.
    assert replayed[0].digest() == state.digest()

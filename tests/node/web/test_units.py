"""The web UI's pure parts: sessions, charts, forms, and a receipt that does not verify."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

import detente.node.web as web
from detente.demo import Demo, scenario
from detente.errors import MalformedError
from detente.node.web import chart, forms, health, receipt, session
from detente.statements.kinds import Tlp
from detente.tlog.receipt import Receipt


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_public_api_is_explicit() -> None:
    assert web.__all__ == ["WebNode", "WebUI", "mount_web"]
    for module in (chart, forms, health, receipt, session):
        assert all(hasattr(module, name) for name in module.__all__)


def test_one_time_codes_work_once_and_expire() -> None:
    clock = _Clock()
    sessions = session.Sessions("secret-token", clock)
    code = sessions.issue_link_code()
    assert sessions.redeem(code)
    assert not sessions.redeem(code)
    late = sessions.issue_link_code()
    clock.now += session.LINK_SECONDS + 1
    assert not sessions.redeem(late)
    assert not sessions.redeem("never-issued")


def test_sessions_expire_when_idle_and_check_csrf() -> None:
    clock = _Clock()
    sessions = session.Sessions("secret-token", clock)
    opened = sessions.open()
    assert sessions.find(opened.id) is opened
    assert sessions.csrf_ok(opened, opened.csrf)
    assert not sessions.csrf_ok(opened, "forged")
    assert not sessions.csrf_ok(opened, None)
    assert sessions.check_token(" secret-token\n")
    assert not sessions.check_token("secret")
    clock.now += session.IDLE_SECONDS + 1
    assert sessions.find(opened.id) is None
    with pytest.raises(ValueError, match="empty"):
        session.Sessions("", clock)


def test_chart_says_status_in_words_and_has_a_description() -> None:
    bars = [
        chart.Bar("answered", 2.0, 72.0, chart.BarStatus.IN_TIME),
        chart.Bar("<script>", 80.0, 72.0, chart.BarStatus.OVERDUE),
    ]
    svg = chart.bar_chart(bars, "Time to answer", "c1")
    assert 'role="img"' in svg
    assert "<desc" in svg
    assert "overdue" in svg
    assert "in time" in svg
    assert "<script>" not in svg  # labels are escaped
    assert "nothing yet" in chart.bar_chart([], "Time to answer", "c2")


def test_form_fields_become_a_strict_body() -> None:
    body = forms.body_from_form(
        "ping",
        {"id": ["ping-9"], "to": ["redland"], "role": ["technical"], "reply_within_minutes": ["5"]},
    )
    assert body.model_dump(mode="json")["reply_within_minutes"] == 5
    with pytest.raises(MalformedError, match="given 2 times"):
        forms.body_from_form("agreement.sign", {"agreement": ["a", "b"]})
    with pytest.raises(MalformedError, match="UTC time"):
        forms.body_from_form(
            "consultation.request",
            {"id": ["c"], "with_parties": ["redland"], "agenda": ["x"], "proposed_time": ["soon"]},
        )
    with pytest.raises(MalformedError, match="does not compose"):
        forms.body_from_form("group.genesis", {})


#: Filled-in forms of every kind the UI composes (the values a member would type).
FILLED: dict[str, dict[str, list[str]]] = {
    "incident.notify": {"id": ["inc-1"], "purpose": ["allegation"], "to": ["redland"],
                        "title": ["Mail of officials read"], "summary": ["Since March."],
                        "severity": ["high"], "agreement": ["accord"],
                        "norms": ["UNGGE15-13f", "PARIS-3"], "answer_by": ["2026-12-09T09:30"]},
    "incident.respond": {"incident": ["inc-1"], "response": ["deny"], "text": ["We did not."]},
    "consultation.request": {"id": ["c-1"], "with_parties": ["redland", "greenland"],
                             "agenda": ["Samples"], "incident": ["inc-1"],
                             "proposed_time": ["2026-12-10T14:00:00"]},
    "ping": {"id": ["p-1"], "to": ["redland"], "role": ["technical"],
             "reply_within_minutes": ["30"]},
    "norm.propose": {"id": ["GROUP-no-hack-and-leak"], "title": ["No hack-and-leak"],
                     "text": ["Do not publish stolen material."], "provenance": ["PARIS-3"]},
    "agreement.propose": {"id": ["accord"], "title": ["Election accord"],
                          "norms": ["UNGGE15-13f"], "parties": ["blueland", "redland"],
                          "answer_hours": ["72"]},
    "agreement.sign": {"agreement": ["accord"]},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(forms.COMPOSE_KINDS))
def test_a_body_gives_back_the_form_that_composes_it(kind: str) -> None:
    body = forms.body_from_form(kind, FILLED[kind])
    again = forms.form_from_body(body, Tlp.AMBER, ["greenland"])
    assert again["tlp"] == ["AMBER"]
    assert again["recipients"] == ["greenland"]
    assert forms.body_from_form(kind, again) == body
    for name, value in FILLED[kind].items():  # what the member typed, as a browser shows it
        assert again[name] == value or again[name] == [value[0] + ":00"], name


class _TamperedStore:
    """The node's store, but the receipt it kept for one entry has a flipped proof bit."""

    def __init__(self, store: object, index: int) -> None:
        self._store = store
        self._index = index

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def receipts(self) -> list[object]:
        out = []
        for kept in self._store.receipts():  # type: ignore[attr-defined]
            if kept.index == self._index:
                parsed = Receipt.from_bytes(kept.receipt)
                first = bytes([parsed.proof[0][0] ^ 1]) + parsed.proof[0][1:]
                bad = dataclasses.replace(parsed, proof=(first, *parsed.proof[1:]))
                kept = dataclasses.replace(kept, receipt=bad.to_bytes())
            out.append(kept)
        return out


def test_a_tampered_receipt_says_which_check_failed(demo: Demo) -> None:
    node = demo.nodes[scenario.BLUELAND]
    state = node.state()
    index = state.incidents[scenario.INCIDENT].index
    good = receipt.check_receipt(node.store, state, index)
    assert good.valid
    assert good.source == receipt.OWN
    bad = receipt.check_receipt(_TamperedStore(node.store, index), state, index)
    assert not bad.valid
    assert bad.failed_check == "inclusion proof against the checkpoint root"
    with pytest.raises(MalformedError, match="not in the node's log"):
        receipt.check_receipt(node.store, state, state.size)


def test_health_and_logged_times_come_from_witnessed_checkpoints(demo: Demo) -> None:
    node = demo.nodes[scenario.BLUELAND]
    state = node.state()
    now = node.now()
    found = health.log_health(node.store, state, now)
    assert found.size == state.size
    assert found.latest is not None
    assert found.latest.witnessed_at is not None
    assert found.trusting_hub
    assert found.misbehaviour == ()
    checkpoints = sorted(node.store.checkpoints(), key=lambda c: c.size)
    logged = health.logged_at(state, checkpoints, 1)
    assert logged is not None
    assert logged.size > 1
    assert health.logged_at(state, checkpoints, 10**6) is None
    assert isinstance(found.age, dt.timedelta)

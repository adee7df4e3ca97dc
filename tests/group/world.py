"""A small test harness over the scenario builder: a group state plus the chain that feeds it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from detente.errors import RejectedError
from detente.group import GroupState, apply, genesis
from detente.statements.kinds import Body
from group.scenario import Chain, build_genesis

__all__ = ["START", "World"]

START = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)


@dataclass
class World:
    """Founders blueland, redland, greenland (admission quorum 2) and a clock for issued_at."""

    chain: Chain = field(default_factory=Chain)
    now: dt.datetime = START
    state: GroupState = field(init=False)

    def __post_init__(self) -> None:
        founders = ("blueland", "redland", "greenland")
        body = build_genesis(self.now, parties=founders)
        self.state = genesis(self.chain.genesis(body, self.now, founders))

    def tick(self, minutes: int = 1) -> dt.datetime:
        self.now += dt.timedelta(minutes=minutes)
        return self.now

    def ok(self, author: str, body: Body, **options: object) -> GroupState:
        """Apply a statement the rules must accept; returns the new state."""
        entry = self.chain.make(author, body, self.tick(), **options)  # type: ignore[arg-type]
        self.state = apply(self.state, entry, at=self.now)
        return self.state

    def refused(self, author: str, body: Body, rule: str, **options: object) -> RejectedError:
        """Build a statement (chain not advanced) and check the rules refuse it with ``rule``."""
        entry = self.chain.make(
            author,
            body,
            self.tick(),
            advance=False,
            **options,  # type: ignore[arg-type]
        )
        return self.refuse_entry(entry, rule)

    def refuse_entry(self, entry: bytes, rule: str, at: dt.datetime | None = None) -> RejectedError:
        before = self.state
        digest = before.digest()
        with pytest.raises(RejectedError) as caught:
            apply(before, entry, at=self.now if at is None else at)
        error = caught.value
        assert error.rule == rule, f"expected {rule}, got {error.rule}: {error}"
        assert error.message, "a refusal must say why in words"
        assert self.state is before
        assert before.digest() == digest, "a refused statement changed the state"
        return error

"""A running demo (hub, witness, two nodes with their web UIs) with a clock tests can move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from detente.demo import Demo, start_demo
from node.web.helpers import Browsers


class MovableClock:
    """Wall time plus an offset a test moves forward (time injected, never waited for)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, hours: float) -> None:
        self.offset += hours * 3600


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Iterator[Demo]:
    root: Path = tmp_path_factory.mktemp("web") / "demo"
    with start_demo(root, clock=clock) as running:
        yield running


@pytest.fixture
def browsers(demo: Demo) -> Iterator[Browsers]:
    clients = Browsers(demo)
    yield clients
    clients.close()

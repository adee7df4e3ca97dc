"""A real hub on loopback for the tests: founded from the scenario builder's genesis."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from detente.hub.app import create_hub_app
from detente.hub.auth import auth_message
from detente.hub.config import HubDir
from detente.hub.instance import Hub, found, open_hub
from detente.serving import BackgroundServer
from detente.statements.envelope import PAYLOAD_TYPE
from detente.statements.kinds import WitnessKey
from group.scenario import BLUELAND, Chain, build_genesis, party_key

ORIGIN = "detente.test/hub"
STATEMENT = {"Content-Type": PAYLOAD_TYPE}


@dataclass
class RunningHub:
    directory: HubDir
    hub: Hub
    url: str
    http: httpx.Client
    chain: Chain
    start: dt.datetime

    def size(self) -> int:
        state = self.hub.store.state()
        return 0 if state is None else state.size

    def post(self, entry: bytes, **params: str) -> httpx.Response:
        return self.http.post("/v1/statements", content=entry, headers=STATEMENT, params=params)


def issued_start() -> dt.datetime:
    """A start in whole seconds, 30 minutes ago (statements are issued after it)."""
    return dt.datetime.fromtimestamp(int(time.time()) - 1800, dt.UTC)


def make_hub_dir(path: Path, database: str | None = None) -> HubDir:
    directory = HubDir.create(path, ORIGIN, database)
    return directory


@contextlib.contextmanager
def running_hub(
    path: Path,
    *,
    database: str | None = None,
    parties: Sequence[str] = (BLUELAND, "redland", "greenland"),
    witnesses: Sequence[WitnessKey] = (),
    quorum: int = 0,
) -> Iterator[RunningHub]:
    directory = make_hub_dir(path, database)
    start = issued_start()
    chain = Chain()
    body = build_genesis(
        start,
        parties=parties,
        log_origin=ORIGIN,
        log_vkey=directory.log.vkey,
        witnesses=witnesses,
        witness_quorum=quorum,
    )
    found(directory, chain.genesis(body, start, parties))
    with (
        open_hub(HubDir.open(path)) as hub,
        BackgroundServer(create_hub_app(hub)) as server,
        httpx.Client(base_url=server.url, timeout=30.0) as http,
    ):
        yield RunningHub(directory, hub, server.url, http, chain, start)


def login(http: httpx.Client, party: str, key_name: str | None = None) -> dict[str, str]:
    """Log ``party`` in with its key; the Authorization header to use."""
    nonce = http.post("/v1/auth/challenge", json={"party": party}).json()["nonce"]
    signature = party_key(key_name or party).sign(auth_message(ORIGIN, party, nonce))
    answer = http.post(
        "/v1/auth/token",
        json={"party": party, "nonce": nonce, "signature": base64.b64encode(signature).decode()},
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}

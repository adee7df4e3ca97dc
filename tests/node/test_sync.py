"""Sync against a real hub in-process (BackgroundServer): digests equal the hub's, after an
incremental sync and after a full re-sync into an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import pytest

from detente.errors import ConflictError
from detente.node.store import NodeStore
from detente.statements.kinds import ContactRole, NormPropose, Ping
from group.scenario import BLUELAND, REDLAND
from hub.harness import RunningHub, running_hub
from node.nodes import make_node_dir, open_test_node, running_node
from tlog.logtrees import BACKENDS, store_url

GREENLAND = "greenland"


def say_some(hub: RunningHub, count: int, *, offset: int = 0) -> None:
    """``count`` statements by the three parties, each accepted by the hub."""
    minute = dt.timedelta(minutes=1)
    entries = []
    for n in range(offset, offset + count):
        author = (BLUELAND, REDLAND, GREENLAND)[n % 3]
        if n % 2:
            body: object = NormPropose(
                id=f"WG-NORM-{n}", title=f"Norm {n}", text=f"Text of norm {n}.", provenance=()
            )
        else:
            body = Ping(
                id=f"ping-{n}",
                to=(REDLAND if author != REDLAND else BLUELAND,),
                role=ContactRole.TECHNICAL,
                reply_within_minutes=60,
            )
        entries.append(hub.chain.make(author, body, hub.start + minute))  # type: ignore[arg-type]
    content = b"[" + b",".join(entries) + b"]"
    response = hub.http.post(
        "/v1/statements/batch", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


def hub_digest(hub: RunningHub) -> str:
    return str(hub.http.get("/v1/state").json()["digest"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_reaches_the_hubs_digest_and_resyncs_from_empty(tmp_path: Path, backend: str) -> None:
    with contextlib.ExitStack() as stack:
        hub = stack.enter_context(running_hub(tmp_path / "hub"))
        say_some(hub, 20)
        database = stack.enter_context(store_url(backend, tmp_path))
        directory = make_node_dir(tmp_path / "node", REDLAND, hub.url, database=database)
        node = stack.enter_context(open_test_node(directory))
        first = node.sync()
        assert first.misbehaviour is None
        assert first.ok
        assert (first.start_size, first.size) == (0, 21)
        assert first.digest is not None
        assert first.digest.hex() == hub_digest(hub)
        assert first.hub_digest == first.digest

        again = node.sync()
        assert again.fetched == 0
        assert again.digest == first.digest

        say_some(hub, 300, offset=20)  # crosses a full tile
        later = node.sync()
        assert (later.start_size, later.size) == (21, 321)
        assert later.digest is not None
        assert later.digest.hex() == hub_digest(hub)
        assert [c.size for c in node.store.checkpoints()] == [21, 321]

    # A second node directory with an empty database re-syncs everything to the same digest.
    with contextlib.ExitStack() as stack:
        hub_path = tmp_path / "hub2"
        hub = stack.enter_context(running_hub(hub_path))
        say_some(hub, 40)
        one = stack.enter_context(running_node(tmp_path / "a", BLUELAND, hub.url))
        two = stack.enter_context(running_node(tmp_path / "b", BLUELAND, hub.url))
        assert one.sync().digest == two.sync().digest
        assert one.store.state() is not None


def test_the_state_survives_reopening_and_a_lost_snapshot(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub:
        say_some(hub, 10)
        directory = make_node_dir(tmp_path / "node", GREENLAND, hub.url)
        with open_test_node(directory) as node:
            digest = node.sync().digest
        secret = directory.private_key().private_bytes_raw()
        with NodeStore.open(directory.database, secret) as store:
            state = store.state()
            assert state is not None
            assert state.digest() == digest
        # Another secret: the snapshot does not authenticate, the state is replayed.
        with NodeStore.open(directory.database, b"another secret") as store:
            state = store.state()
            assert state is not None
            assert state.digest() == digest


def test_a_distrusted_hub_is_refused_until_cleared(tmp_path: Path) -> None:
    with (
        running_hub(tmp_path / "hub") as hub,
        running_node(tmp_path / "n", REDLAND, hub.url) as node,
    ):
        node.sync()
        node.store.add_misbehaviour("bad-answer", time.time(), "test", "nowhere", b"{}")
        with pytest.raises(ConflictError, match="stopped trusting"):
            node.sync()
        node.store.clear_distrust()
        assert node.sync().misbehaviour is None


def test_receipts_are_confirmed(tmp_path: Path) -> None:
    with (
        running_hub(tmp_path / "hub") as hub,
        running_node(tmp_path / "n", REDLAND, hub.url) as node,
    ):
        ack = hub.chain.make(
            REDLAND,
            NormPropose(id="WG-R", title="R", text="Redland's norm.", provenance=()),
            hub.start + dt.timedelta(minutes=1),
        )
        answer = hub.post(ack, wait="receipt")
        assert answer.status_code == 201, answer.text
        body = answer.json()
        node.store.add_receipt(body["index"], ack, body["receipt"].encode())
        report = node.sync()
        assert report.receipts_confirmed == 1
        assert report.ok
        assert node.store.receipts()[0].confirmed_size == report.size

"""Member nodes for the tests: a node directory for a scenario party, and its syncer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from detente.node.config import NodeDir
from detente.node.store import NodeStore
from detente.node.sync import Syncer, SyncReport
from detente.tlog.note import Ed25519Signer
from group.scenario import party_key


@dataclass
class SyncingNode:
    directory: NodeDir
    store: NodeStore
    syncer: Syncer

    def sync(self) -> SyncReport:
        return self.syncer.sync()


def make_node_dir(
    path: Path, party: str, hub_url: str, *, peers: Sequence[str] = (), database: str = ""
) -> NodeDir:
    """A node directory holding the scenario's fixed key of ``party``."""
    key = Ed25519Signer(party, party_key(party)).skey()
    return NodeDir.create(path, party, hub_url, key, peers=tuple(peers), database=database)


@contextlib.contextmanager
def open_test_node(directory: NodeDir) -> Iterator[SyncingNode]:
    secret = directory.private_key().private_bytes_raw()
    with (
        NodeStore.open(directory.database, secret) as store,
        httpx.Client(timeout=30.0) as http,
        Syncer(directory, store, http) as syncer,
    ):
        yield SyncingNode(directory, store, syncer)


@contextlib.contextmanager
def running_node(
    path: Path, party: str, hub_url: str, *, peers: Sequence[str] = ()
) -> Iterator[SyncingNode]:
    with open_test_node(make_node_dir(path, party, hub_url, peers=peers)) as node:
        yield node

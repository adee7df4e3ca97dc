"""A real hub on loopback whose checkpoints a real witness (also on loopback) cosigns.

Import as ``from node.hubwithwitness import witnessed_hub`` (tests/ is on sys.path).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from detente.hub.app import create_hub_app
from detente.hub.config import HubDir
from detente.hub.instance import Hub, found, open_hub
from detente.serving import BackgroundServer
from detente.statements.kinds import WitnessKey
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir
from group.scenario import BLUELAND, REDLAND, Chain, build_genesis
from hub.harness import ORIGIN, issued_start

PARTIES = (BLUELAND, REDLAND, "greenland")


@dataclass
class WitnessedHub:
    directory: HubDir
    hub: Hub
    url: str
    witness_vkey: str
    chain: Chain


@contextlib.contextmanager
def witnessed_hub(path: Path) -> Iterator[WitnessedHub]:
    directory = HubDir.create(path / "hub", ORIGIN)
    witness_dir = path / "witness"
    witness_config.init(witness_dir, "detente.test/w1")
    witness_config.add_log(witness_dir, directory.log.vkey)
    vkey = witness_config.load(witness_dir).vkey
    with BackgroundServer(witness_app_from_dir(witness_dir, lambda: int(time.time()))) as w:
        start = issued_start()
        chain = Chain()
        body = build_genesis(
            start,
            parties=PARTIES,
            log_origin=ORIGIN,
            log_vkey=directory.log.vkey,
            witnesses=(WitnessKey(vkey=vkey, url=w.url),),
            witness_quorum=1,
        )
        found(directory, chain.genesis(body, start, PARTIES))
        with (
            open_hub(HubDir.open(path / "hub")) as hub,
            BackgroundServer(create_hub_app(hub)) as server,
        ):
            yield WitnessedHub(directory, hub, server.url, vkey, chain)


def hub_client(running: WitnessedHub) -> httpx.Client:
    return httpx.Client(base_url=running.url, timeout=30.0)

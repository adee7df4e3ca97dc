"""The node catches a dishonest hub (tests/node/dishonest_hub.py, a real HTTP server that
signs with the real log key) and keeps a proof that verifies offline and fails when altered.

Each attack: the node catches it, says which kind, writes the proof file, stops trusting the
hub (the next sync is refused), and :func:`check_misbehaviour` accepts the proof with the
group's log key and refuses it altered.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from detente.errors import ConflictError, DetenteError, MalformedError
from detente.node.config import NodeDir
from detente.node.gossip import gossip_router, store_latest
from detente.node.misbehaviour import Finding, bad_entry_proof, check_misbehaviour
from detente.node.store import NodeStore
from detente.node.sync import SyncReport
from detente.serving import BackgroundServer
from detente.statements.kinds import AgreementSign, NormPropose, WitnessKey
from detente.tlog.note import Ed25519Signer
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir
from group.scenario import BLUELAND, REDLAND, Chain, build_genesis
from hub.harness import ORIGIN, issued_start
from node.dishonest_hub import DishonestHub, History, forge_signature, try_publish
from node.nodes import SyncingNode, make_node_dir, open_test_node

MINUTE = dt.timedelta(minutes=1)


@dataclass
class World:
    path: Path
    signer: Ed25519Signer
    chain: Chain
    start: dt.datetime
    honest: list[bytes]
    double: DishonestHub
    server: BackgroundServer
    witness: tuple[str, str] | None
    http: httpx.Client
    stack: contextlib.ExitStack
    made: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def log_vkey(self) -> str:
        return self.signer.vkey()

    def history(self, entries: list[bytes]) -> History:
        self.made += 1
        history = History(
            self.path / f"history-{self.made}.db",
            self.signer,
            entries,
            witness=self.witness,
            http=self.http,
        )
        self.stack.callback(history.close)
        return history

    def serve(self, view: str, history: History) -> str:
        self.double.views[view] = history
        return f"{self.server.url}/view/{view}"

    def node(self, party: str, view: str, peers: tuple[str, ...] = ()) -> SyncingNode:
        directory = make_node_dir(
            self.path / f"node-{party}-{view}", party, self.url(view), peers=peers
        )
        return self.stack.enter_context(open_test_node(directory))

    def url(self, view: str) -> str:
        return f"{self.server.url}/view/{view}"

    def norm(self, author: str, n: int, chain: Chain | None = None) -> bytes:
        body = NormPropose(id=f"WG-N{n}", title=f"Norm {n}", text=f"Norm {n}.", provenance=())
        return (chain or self.chain).make(author, body, self.start + MINUTE)


@contextlib.contextmanager
def make_world(path: Path, *, with_witness: bool = False) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        signer = Ed25519Signer.generate(ORIGIN)
        witness = None
        witnesses: list[WitnessKey] = []
        if with_witness:
            witness_dir = path / "witness"
            vkey = witness_config.init(witness_dir, "detente.test/witness")
            witness_config.add_log(witness_dir, signer.vkey())
            app = witness_app_from_dir(witness_dir, lambda: int(time.time()))
            server = stack.enter_context(BackgroundServer(app))
            witness = (vkey, server.url)
            witnesses = [WitnessKey(vkey=vkey, url=server.url)]
        start = issued_start()
        chain = Chain()
        body = build_genesis(
            start,
            parties=(BLUELAND, REDLAND),
            log_origin=ORIGIN,
            log_vkey=signer.vkey(),
            witnesses=witnesses,
            witness_quorum=len(witnesses),
        )
        honest = [chain.genesis(body, start, (BLUELAND, REDLAND))]
        double = DishonestHub({})
        hub_server = stack.enter_context(BackgroundServer(double.app))
        http = stack.enter_context(httpx.Client(timeout=10.0))
        world = World(path, signer, chain, start, honest, double, hub_server, witness, http, stack)
        for n in range(1, 7):
            honest.append(world.norm((BLUELAND, REDLAND)[n % 2], n))
        yield world


def caught(node: SyncingNode, report: SyncReport, kind: str, log_vkey: str) -> Finding:
    """The node caught ``kind``, keeps the proof file, refuses the hub; the proof verifies."""
    found = report.misbehaviour
    assert found is not None, "the node did not catch the hub"
    assert found.kind == kind, found.description
    assert Path(found.path).read_bytes() == found.proof
    assert node.store.distrusted() == found
    with pytest.raises(ConflictError, match="stopped trusting"):
        node.sync()
    finding = check_misbehaviour(found.proof, log_vkey)
    assert finding.kind == kind
    # The wrong log key: the proof is about another log.
    with pytest.raises(DetenteError):
        check_misbehaviour(found.proof, Ed25519Signer.generate(ORIGIN).vkey())
    return finding


def altered(proof: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    raw = json.loads(proof)
    change(raw["evidence"])
    return json.dumps(raw).encode()


def test_a_forged_signature_in_the_log(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        entries = list(world.honest)
        entries[4] = forge_signature(entries[4])
        node = world.node(REDLAND, "a")
        world.serve("a", world.history(entries))
        report = node.sync()
        finding = caught(node, report, "bad-entry", world.log_vkey)
        assert "bad-signature" in finding.summary
        assert finding.attributable
        assert node.store.size() == 0  # nothing of the caught sync was stored
        proof = report.misbehaviour.proof  # type: ignore[union-attr]
        # Without the forged entry, the rest applies: no misbehaviour shown.
        with pytest.raises(DetenteError):
            check_misbehaviour(altered(proof, lambda e: e["entries"].pop()))
        # The honest entry in its place: it is not the log's leaf.
        honest = world.honest[4]

        def swap(evidence: dict[str, Any]) -> None:
            evidence["entries"][-1] = base64.b64encode(honest).decode()

        with pytest.raises(DetenteError):
            check_misbehaviour(altered(proof, swap))


def test_a_signature_byte_forged_only_in_the_served_bundle(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        world.serve("a", world.history(world.honest))
        world.double.flip_in_bundle.add(("a", 3))
        node = world.node(BLUELAND, "a")
        report = node.sync()
        found = report.misbehaviour
        assert found is not None
        assert found.kind == "bad-answer"
        assert "entry 3" in found.description
        # The bytes do not match the tiles: a record, but nothing a third party could hold
        # against the log.
        assert not check_misbehaviour(found.proof).attributable
        with pytest.raises(ConflictError):
            node.sync()


def test_an_authors_statements_reordered(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        entries = list(world.honest)
        entries[2], entries[4] = entries[4], entries[2]  # Redland's seq 1 and seq 2
        world.serve("a", world.history(entries))
        node = world.node(BLUELAND, "a")
        finding = caught(node, node.sync(), "bad-entry", world.log_vkey)
        assert "seq-gap" in finding.summary
        assert "entry 2" in finding.summary


def test_a_validly_signed_statement_the_rules_refuse(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        node = world.node(REDLAND, "a")
        history = world.history(world.honest)
        world.serve("a", history)
        assert node.sync().misbehaviour is None
        # Redland signs an agreement nobody proposed: signed, chained, and refused.
        history.append(
            [world.chain.make(REDLAND, AgreementSign(agreement="no-such"), world.start + MINUTE)]
        )
        report = node.sync()
        finding = caught(node, report, "bad-entry", world.log_vkey)
        assert "entry 7" in finding.summary
        assert node.store.size() == 7  # the verified part stays


def test_a_refused_entry_convicts_even_if_the_next_bundle_fails_to_arrive(
    tmp_path: Path,
) -> None:
    # The node fetches bundle 1 while it applies bundle 0 (its signatures are checked ahead):
    # a broken bundle 1 must not hide the refusal in bundle 0.
    with make_world(tmp_path) as world:
        node = world.node(REDLAND, "a")
        before = [world.norm((BLUELAND, REDLAND)[n % 2], n) for n in range(7, 107)]
        bad = world.chain.make(REDLAND, AgreementSign(agreement="no-such"), world.start + MINUTE)
        after = [world.norm((BLUELAND, REDLAND)[n % 2], n) for n in range(107, 300)]
        world.serve("a", world.history([*world.honest, *before, bad, *after]))
        world.double.truncate_tiles.add(("a", 1))
        finding = caught(node, node.sync(), "bad-entry", world.log_vkey)
        assert f"entry {len(world.honest) + 100}" in finding.summary


def test_an_entry_dropped_under_a_receipt_the_author_holds(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        node = world.node(BLUELAND, "a")
        fork = copy.deepcopy(world.chain)
        honest = world.history(world.honest)
        world.serve("a", honest)
        assert node.sync().misbehaviour is None
        # Blueland says something and gets a receipt for it (index 7, under size 8) ...
        said = world.norm(BLUELAND, 7)
        honest.append([said])
        node.store.add_receipt(7, said, honest.receipt(7))
        # ... then the hub serves a log without it, grown with Redland's statements.
        dropped = world.history([*world.honest, *(world.norm(REDLAND, n, fork) for n in (8, 9))])
        world.serve("a", dropped)
        report = node.sync()
        finding = caught(node, report, "dropped-entry", world.log_vkey)
        assert "receipt for entry 7" in finding.summary
        proof = report.misbehaviour.proof  # type: ignore[union-attr]
        with pytest.raises(DetenteError):
            check_misbehaviour(
                altered(proof, lambda e: e.update(entry=e["entry"][:-4] + "AAA=")),
            )


def test_a_checkpoint_inconsistent_with_one_seen_before(tmp_path: Path) -> None:
    with make_world(tmp_path, with_witness=True) as world:
        node = world.node(REDLAND, "a")
        honest = world.history(world.honest)
        assert honest.published, "the witness cosigned the honest log"
        world.serve("a", honest)
        assert node.sync().misbehaviour is None
        # Another history of 8 entries, Blueland's second statement moved after Redland's
        # (each chain still valid): the log key signs it ...
        later = world.norm(REDLAND, 20, copy.deepcopy(world.chain))
        h = world.honest
        other = world.history([*h[:3], h[4], h[6], h[3], h[5], later])
        # ... but the witness refuses to cosign a tree that does not extend what it saw.
        assert not other.published
        assert not try_publish(other)
        world.serve("a", other)
        report = node.sync()
        finding = caught(node, report, "split-view", world.log_vkey)
        assert "does not extend" in finding.summary or "two different" in finding.summary
        proof = report.misbehaviour.proof  # type: ignore[union-attr]
        with pytest.raises(DetenteError):
            check_misbehaviour(altered(proof, lambda e: e.update(second=e["first"])))


def test_two_nodes_shown_two_checkpoints_of_one_size(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        stores: dict[str, NodeStore] = {}
        gossip = {}
        for party in (BLUELAND, REDLAND):
            app = FastAPI()
            app.include_router(gossip_router(lambda party=party: store_latest(stores[party])))
            gossip[party] = world.stack.enter_context(BackgroundServer(app))
        blue = world.node(BLUELAND, "a", peers=(gossip[REDLAND].url,))
        red = world.node(REDLAND, "b", peers=(gossip[BLUELAND].url,))
        stores[BLUELAND], stores[REDLAND] = blue.store, red.store
        fork = copy.deepcopy(world.chain)
        world.serve("a", world.history([*world.honest, world.norm(BLUELAND, 30)]))
        world.serve("b", world.history([*world.honest, world.norm(REDLAND, 31, fork)]))
        assert red.sync().misbehaviour is None  # Blueland's node has nothing to show yet
        report = blue.sync()
        finding = caught(blue, report, "split-view", world.log_vkey)
        assert "two different trees of size 8" in finding.summary
        # Redland's node was shown nothing it could hold against the hub (Blueland's node
        # trusts no checkpoint of this hub), so it still trusts its view.
        assert red.store.distrusted() is None


def _strip_cosignatures(note: str, log_name: str) -> str:
    text, _, signatures = note.rpartition("\n\n")
    kept = [line for line in signatures.splitlines() if line.startswith(f"— {log_name} ")]
    return text + "\n\n" + "".join(line + "\n" for line in kept)


def test_an_accusation_stripped_of_the_witness_quorum_convicts_nobody(tmp_path: Path) -> None:
    # The log alone can sign any tree; without the group's witness quorum a checkpoint says
    # nothing about when the entry was logged, so a member cannot forge a conviction with it.
    with make_world(tmp_path, with_witness=True) as world:
        entries = list(world.honest)
        entries[4] = forge_signature(entries[4])
        node = world.node(REDLAND, "a")
        world.serve("a", world.history(entries))
        report = node.sync()
        caught(node, report, "bad-entry", world.log_vkey)
        proof = report.misbehaviour
        assert proof is not None

        def strip(evidence: dict[str, Any]) -> None:
            evidence["checkpoint"] = _strip_cosignatures(evidence["checkpoint"], ORIGIN)

        with pytest.raises(DetenteError, match="needed 1, found 0"):
            check_misbehaviour(altered(proof.proof, strip), world.log_vkey)


def test_the_accusers_clock_cannot_make_an_honest_entry_future_dated(tmp_path: Path) -> None:
    # A group without witnesses: entry 3 is honest; an accuser writes judged_at in 2000 so
    # that every entry looks issued "in the future". The checker ignores the accuser's clock.
    with make_world(tmp_path) as world:
        history = world.history(world.honest)
        entries = world.honest[:4]
        tree = history.store
        size = len(world.honest)
        forged = bad_entry_proof(
            entries,
            history.checkpoint(),
            tree.consistency_proof(len(entries), size),
            judged_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            description="entry 3 is future-dated (it is not)",
            created=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            hub=world.url("a"),
        )
        with pytest.raises(DetenteError, match="applies under the group rules"):
            check_misbehaviour(forged, world.log_vkey)


def test_a_garbled_answer_fails_the_sync_but_accuses_nobody(tmp_path: Path) -> None:
    # A bundle cut short does not parse: that is malformed, not forged. The sync fails with
    # the parse error and stores nothing, and the node keeps trusting the hub (a broken proxy
    # or disk must not turn into an accusation no third party could check).
    with make_world(tmp_path) as world:
        world.serve("a", world.history(world.honest))
        world.double.truncate_bundles.add("a")
        node = world.node(BLUELAND, "a")
        with pytest.raises(MalformedError):
            node.sync()
        assert node.store.distrusted() is None
        assert node.store.size() == 0
        world.double.truncate_bundles.clear()
        assert node.sync().misbehaviour is None
        assert node.store.size() == len(world.honest)


def test_a_look_alike_group_naming_this_party_with_another_key_is_refused(
    tmp_path: Path,
) -> None:
    # The node did not pin the log key; the hub serves a group whose genesis lists
    # "blueland" with the scenario's key, but this node holds another blueland key.
    with make_world(tmp_path) as world:
        world.serve("a", world.history(world.honest))
        directory = NodeDir.create(tmp_path / "impostor-target", BLUELAND, world.url("a"), None)
        node = world.stack.enter_context(open_test_node(directory))
        with pytest.raises(ConflictError, match="not your group"):
            node.sync()
        assert node.store.size() == 0
        assert node.store.state() is None

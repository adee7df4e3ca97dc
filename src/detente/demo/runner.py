"""Start the demo's processes in this one process, on loopback, and play the scenario.

Everything the demo runs is the real thing: the witness app, the hub app (its own SQLite
database and log), and two member nodes each with its own database, key and local API; they
talk over HTTP on 127.0.0.1 exactly as separate machines would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from detente.crypto.age import IDENTITY_FILE, Identity, save_identity
from detente.demo import scenario
from detente.hub.app import create_hub_app
from detente.hub.config import HubDir
from detente.hub.instance import found, open_hub
from detente.node.api import create_node_app
from detente.node.config import NodeDir
from detente.node.evidence import attach_evidence, fetch_evidence, incident_readers
from detente.node.instance import Node, open_node
from detente.node.web import WebUI
from detente.serving import BackgroundServer, reserve
from detente.statements.kinds import PartyKeys, Tlp, WitnessKey
from detente.statements.payload import Statement, make_entry
from detente.transcript.bundle import Subject
from detente.transcript.report import Transcript
from detente.transcript.verify import verify_bundle
from detente.witness import config as witness_config
from detente.witness.app import witness_app_from_dir

__all__ = ["Demo", "DemoStep", "start_demo"]

ORIGIN = "detente.localhost/blue-red-wg"
WITNESS_NAME = "witness.detente.localhost/w1"


@dataclass(frozen=True, slots=True)
class DemoStep:
    """One statement of the scenario as it landed: who said what, at which index."""

    party: str
    kind: str
    index: int
    receipt_verified: bool


@dataclass
class Demo:
    """The running demo: its directory, its services' addresses, and what happened."""

    root: Path
    hub_url: str
    witness_url: str
    node_urls: dict[str, str]
    node_tokens: dict[str, str]
    nodes: dict[str, Node]
    steps: list[DemoStep] = field(default_factory=list)
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    bundle_paths: dict[str, Path] = field(default_factory=dict)
    web: dict[str, WebUI] = field(default_factory=dict)

    def login_link(self, party: str) -> str:
        """A fresh one-time link that logs a browser in to ``party``'s web UI."""
        return self.web[party].login_link(self.node_urls[party])


def _now(clock: Callable[[], float]) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(clock()), dt.UTC)


def _age_recipient(node_dir: Path, created: dt.datetime) -> str:
    """A real age X25519 identity for the node (kept 0600); its recipient goes in genesis."""
    identity = Identity.generate()
    save_identity(node_dir / IDENTITY_FILE, identity, created)
    return str(identity.recipient)


@contextlib.contextmanager
def start_demo(
    root: Path,
    *,
    clock: Callable[[], float] = time.time,
    progress: Callable[[str], None] = lambda _message: None,
) -> Iterator[Demo]:
    """Create everything under ``root`` (a fresh directory), start it, play the scenario."""
    root.mkdir(parents=True, exist_ok=False)
    with contextlib.ExitStack() as stack:
        progress("creating the hub's log key and the witness")
        hub_dir = HubDir.create(root / "hub", ORIGIN)
        log_vkey = hub_dir.log.vkey
        witness_dir = root / "witness"
        witness_vkey = witness_config.init(witness_dir, WITNESS_NAME)
        witness_config.add_log(witness_dir, log_vkey)
        witness = BackgroundServer(witness_app_from_dir(witness_dir, lambda: int(clock())))
        stack.enter_context(witness)

        hub_sock = reserve()
        hub_url = f"http://127.0.0.1:{hub_sock.getsockname()[1]}"
        socks = {p: reserve() for p in (scenario.BLUELAND, scenario.REDLAND)}
        urls = {p: f"http://127.0.0.1:{s.getsockname()[1]}" for p, s in socks.items()}

        progress("creating the member nodes of Blueland and Redland")
        parties = []
        keys = []
        for party in (scenario.BLUELAND, scenario.REDLAND):
            peers = tuple(url for p, url in urls.items() if p != party)
            port = socks[party].getsockname()[1]
            node_dir = NodeDir.create(root / party, party, hub_url, peers=peers, api_port=port)
            parties.append(
                PartyKeys(
                    id=party,
                    name=party.capitalize(),
                    signing_key=node_dir.public_key(),
                    encryption_key=_age_recipient(root / party, _now(clock)),
                )
            )
            keys.append(node_dir.private_key())

        progress("founding the group: a genesis signed by both founders")
        body = scenario.genesis_body(
            tuple(parties), ORIGIN, log_vkey, WitnessKey(vkey=witness_vkey, url=witness.url)
        )
        statement = Statement(
            kind="group.genesis",
            group=scenario.GROUP,
            author=scenario.BLUELAND,
            seq=0,
            prev=None,
            issued_at=_now(clock),
            tlp=Tlp.GREEN,
            pap=None,
            body=body,
        )
        found(hub_dir, make_entry(statement, keys).entry, clock=clock)

        hub = stack.enter_context(open_hub(hub_dir, clock=clock))
        stack.enter_context(BackgroundServer(create_hub_app(hub), sock=hub_sock))
        nodes = {}
        tokens = {}
        web = {}
        for party in (scenario.BLUELAND, scenario.REDLAND):
            node = stack.enter_context(open_node(root / party, clock=clock))
            app = create_node_app(node)
            stack.enter_context(BackgroundServer(app, sock=socks[party]))
            nodes[party] = node
            tokens[party] = node.api_token
            web[party] = app.state.web
        for node in nodes.values():  # every node answers gossip before the first sync
            node.sync()
        demo = Demo(root, hub_url, witness.url, urls, tokens, nodes, web=web)
        _play(demo, clock, progress)
        yield demo


def _play(demo: Demo, clock: Callable[[], float], progress: Callable[[str], None]) -> None:
    blue, red = demo.nodes[scenario.BLUELAND], demo.nodes[scenario.REDLAND]

    def say(node: Node, kind: str, body: object, tlp: Tlp = Tlp.GREEN) -> None:
        # TLP:AMBER is sealed by the node's speaker: the title, summary, evidence and answer
        # text are encrypted to Blueland and Redland; the hub stores only the ciphertext.
        said = node.say(kind, body, tlp=tlp, pap=None)  # type: ignore[arg-type]
        demo.steps.append(DemoStep(node.party, kind, said.index, said.receipt is not None))
        sealed = getattr(said.signed.statement.body, "sealed", None)
        how = (
            "" if sealed is None else f", TLP:{tlp.value} sealed to {', '.join(sealed.recipients)}"
        )
        progress(f"{node.party} said {kind} (entry {said.index}{how})")

    for node in (blue, red):
        say(node, "contact.update", scenario.contacts(node.party))
    for norm in scenario.norm_proposals():
        say(blue, "norm.propose", norm)
    say(blue, "agreement.propose", scenario.accord())
    red.sync()
    say(red, "agreement.sign", scenario.signature())
    blue.sync()
    evidence = demo.root / scenario.BLUELAND / "evidence" / "intrusion-timeline.txt"
    evidence.parent.mkdir(parents=True, exist_ok=True)
    evidence.write_bytes(scenario.EVIDENCE_TEXT)
    # The timeline travels as a blob: encrypted on Blueland's node to the allegation's
    # readers (Blueland and Redland), uploaded; Redland's node fetches and verifies it.
    readers = incident_readers(blue.state(), blue.party, (scenario.REDLAND,), tlp=Tlp.AMBER)
    proof = attach_evidence(blue, evidence, readers, media_type="text/plain")
    progress(f"{blue.party} encrypted the evidence to {', '.join(readers)} and uploaded it")
    say(blue, "incident.notify", scenario.allegation(_now(clock), proof), Tlp.AMBER)
    red.sync()
    fetched = fetch_evidence(red, proof)
    progress(f"{red.party} fetched the evidence, decrypted and verified it: {fetched.name}")
    say(red, "incident.respond", scenario.denial(), Tlp.AMBER)
    blue.sync()
    # About the AMBER incident: AMBER too, sealed to both (a GREEN one would be refused).
    say(blue, "consultation.request", scenario.consultation_request(_now(clock)), Tlp.AMBER)
    red.sync()
    say(red, "consultation.record", scenario.consultation_record(_now(clock)), Tlp.AMBER)
    blue.sync()
    say(blue, "ping", scenario.ping())
    red.sync()  # Redland's node answers the ping (auto ping.ack)
    blue.sync()

    for party, node in demo.nodes.items():
        node.sync()
        bundle = node.export(Subject.incident(scenario.INCIDENT)).to_bytes()
        path = demo.root / party / f"transcript-{scenario.INCIDENT}.json"
        path.write_bytes(bundle)
        demo.bundle_paths[party] = path
        demo.transcripts[party] = verify_bundle(bundle)
        progress(f"{party}'s node exported the incident and verified it offline")

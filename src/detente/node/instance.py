"""A running member node: its directory, store, syncer and speaker, wired together.

``open_node(path)`` opens everything a command or the API needs; :class:`Node` is what
``detente.node.api.create_node_app`` serves (it satisfies ``NodeService``).

The store is ``detente.node.store.NodeStore`` (opened with the raw party key as its snapshot
secret); the syncer is ``detente.node.sync.Syncer(node_dir, store, http)`` with ``sync()``.

Sealed statements: after each sync the node opens the ones addressed to its party
(``detente.node.vault``, in the node's own database) with every age identity in
``age.key``; :meth:`Node.opened` and :meth:`Node.revealed` give the opened bodies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from detente.crypto.age import IDENTITY_FILE, Identity, load_identities
from detente.errors import NotFoundError
from detente.group.state import GroupState
from detente.node.blobs import BlobClient, hub_login
from detente.node.confidential import download_bytes
from detente.node.config import NodeDir
from detente.node.gossip import store_latest
from detente.node.speaker import Said, Speaker
from detente.node.vault import Vault, VaultReport
from detente.statements.kinds import Body, Pap, Sealed, Tlp
from detente.statements.payload import SignedStatement, Statement, open_entry
from detente.tlog.checkpoint import Checkpoint
from detente.tlog.hashing import leaf_hash, node_hash
from detente.tlog.note import Note
from detente.tlog.proof import assemble, consistency_plan, inclusion_plan
from detente.transcript.bundle import Bundle, Subject
from detente.transcript.export import build_bundle

__all__ = ["Node", "open_node"]


class Node:
    """One member's node (see the module docstring)."""

    def __init__(
        self,
        directory: NodeDir,
        store: Any,
        syncer: Any,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.store = store
        self.syncer = syncer
        self.clock = clock
        self._token = directory.api_token()
        self._http = http
        self.blobs = self.blob_client(retries=2, retry_delay=0.2)
        self.vault = Vault(store.engine, clock)
        self.speaker = Speaker(
            party=directory.config.party,
            key=directory.private_key(),
            hub=http,
            view=self.state,
            keep=self._keep,
            clock=clock,
            blobs=self.blobs,
            reader=self,
        )

    # -- NodeService ------------------------------------------------------------------------

    @property
    def party(self) -> str:
        return self.directory.config.party

    @property
    def api_token(self) -> str:
        return self._token

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self.clock()), dt.UTC)

    def state(self) -> GroupState:
        """The verified group state (NotFoundError before the first sync)."""
        found: GroupState | None = self.store.state()
        if found is None:
            raise NotFoundError("this node has not synced yet: run `detente node sync`")
        return found

    def sync(self) -> dict[str, Any]:
        """Sync with the hub; open the sealed statements addressed to the member; then, when
        configured, answer pings addressed to it."""
        report = self.syncer.sync()
        acked: list[Said] = []
        if self.directory.config.auto_ack_pings:
            acked = self.speaker.ack_pings(self.state())
            if acked:
                report = self.syncer.sync()
        result = _plain(report)
        result["acked_pings"] = [s.to_json() for s in acked]
        result["sealed"] = self.reveal().to_json()
        return result

    def draft(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp,
        pap: Pap | None,
        recipients: list[str] | None = None,
    ) -> SignedStatement:
        """What ``say`` would sign (sealed if it would be; nothing is uploaded or sent)."""
        signed, _ = self.speaker.prepare(kind, body, tlp=tlp, pap=pap, recipients=recipients)
        return signed

    def say(
        self,
        kind: str,
        body: Body,
        *,
        tlp: Tlp,
        pap: Pap | None,
        recipients: list[str] | None = None,
    ) -> Said:
        said = self.speaker.say(kind, body, tlp=tlp, pap=pap, recipients=recipients)
        self._settle()
        return said

    def reshare(self, index: int, to: list[str], tlp: Tlp, pap: Pap | None = None) -> Said:
        """Re-share the ``intel.share`` at ``index`` (see :meth:`Speaker.reshare`)."""
        said = self.speaker.reshare(index, to, tlp, pap)
        self._settle()
        return said

    def _settle(self) -> None:
        self.syncer.sync()  # the node's own view now holds what it said
        self.reveal()  # and the author reads its own sealed statement like any recipient

    def blob_client(
        self, console: Console | None = None, *, retries: int = 5, retry_delay: float = 0.5
    ) -> BlobClient:
        """A client of the hub's blob store logged in as the member (progress on ``console``)."""
        http, hub_url = self._http, self.directory.config.hub_url
        return BlobClient(
            http,
            hub_url,
            lambda: hub_login(http, hub_url, self.party, self.speaker.key.sign),
            retries=retries,
            retry_delay=retry_delay,
            console=console,
        )

    # -- sealed statements ------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        """Every age identity the node ever had, oldest first (none: an empty list)."""
        path = self.directory.path / IDENTITY_FILE
        return load_identities(path) if path.exists() else []

    def reveal(self) -> VaultReport:
        """Open the sealed statements addressed to the member that are not opened yet."""
        state = self.store.state()
        if state is None:
            return VaultReport()
        return self.vault.update(
            state, self.party, self._entry, self._fetch_sealed, self.identities()
        )

    def opened(self, index: int) -> Body | None:
        """The whole body of the sealed entry ``index``, if this node opened it."""
        return self.vault.opened(index)

    def revealed(self) -> dict[int, Body]:
        """Every sealed entry this node opened: entry index -> whole (unsealed) body."""
        return self.vault.revealed()

    def logged(self, index: int) -> Statement:
        """The statement at ``index`` of the node's verified log."""
        return open_entry(self._entry(index)).statement

    def _entry(self, index: int) -> bytes:
        found: list[bytes] = self.store.read_entries(index, 1)
        if not found:
            raise NotFoundError(f"the node's verified log has no entry {index}")
        return found[0]

    def _fetch_sealed(self, sealed: Sealed) -> bytes:
        return download_bytes(self.blobs, sealed)

    def status(self) -> dict[str, Any]:
        state = self.store.state()
        notes = self._checkpoints()
        latest = None if not notes else _checkpoint(notes[-1])
        misbehaviour = [
            {"id": m.id, "kind": m.kind, "description": m.description, "proof_file": m.path}
            for m in self.store.misbehaviours()
        ]
        return {
            "party": self.party,
            "hub": self.directory.config.hub_url,
            "group": None if state is None else state.name,
            "size": None if state is None else state.size,
            "digest": None if state is None else state.digest().hex(),
            "checkpoint": None
            if latest is None
            else {"size": latest.size, "root": latest.root.hex(), "origin": latest.origin},
            "trusting_hub": self.store.distrusted() is None,
            "misbehaviour": misbehaviour,
            "auto_ack_pings": self.directory.config.auto_ack_pings,
        }

    def entries(self, start: int, end: int) -> list[tuple[int, SignedStatement]]:
        data = self.store.read_entries(start, end - start)
        return [(start + i, open_entry(e)) for i, e in enumerate(data)]

    def latest_checkpoint(self) -> bytes | None:
        return store_latest(self.store)

    def export(self, subject: Subject) -> Bundle:
        """A transcript bundle under the latest trusted checkpoint, from the node's own copy."""
        notes = self._checkpoints()
        if not notes:
            raise NotFoundError("this node trusts no checkpoint yet: run `detente node sync`")
        size = _checkpoint(notes[-1]).size
        tree = _Tree(self.store.read_entries(0, size))
        return build_bundle(
            subject,
            checkpoint=notes[-1],
            fetch_entry=tree.entry,
            fetch_proof=tree.inclusion,
            earlier=notes[:-1],
            fetch_consistency=tree.consistency,
        )

    # -- internals --------------------------------------------------------------------------

    def _keep(self, index: int, receipt: bytes, entry: bytes) -> None:
        self.store.add_receipt(index, entry, receipt)

    def _checkpoints(self) -> list[bytes]:
        """Trusted cosigned notes, smallest tree first (the latest trusted one last)."""
        found = sorted(self.store.checkpoints(), key=lambda c: c.size)
        return [bytes(c.note) for c in found]


class _Tree:
    """Proofs computed from the node's verified entries (no network: export works offline)."""

    def __init__(self, entries: list[bytes]) -> None:
        self._entries = entries
        level = [leaf_hash(e) for e in entries]
        self._levels = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    def entry(self, index: int) -> bytes:
        return self._entries[index]

    def _hashes(self, plan_ids: Any) -> list[bytes]:
        return [self._levels[n.level][n.index] for n in plan_ids]

    def inclusion(self, index: int, size: int) -> tuple[bytes, ...]:
        plan = inclusion_plan(index, size)
        return assemble(plan, self._hashes(plan.ids))

    def consistency(self, size1: int, size2: int) -> tuple[bytes, ...]:
        plan = consistency_plan(size1, size2)
        return assemble(plan, self._hashes(plan.ids))


def _checkpoint(note: bytes) -> Checkpoint:
    return Checkpoint.from_text(Note.from_bytes(note).text)


def _plain(value: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from detente.hub.views import _plain as plain

        out = plain(value)
        return out if isinstance(out, dict) else {"value": out}
    if isinstance(value, dict):
        return dict(value)
    return {"value": str(value)}


@contextlib.contextmanager
def open_node(path: Path, *, clock: Callable[[], float] = time.time) -> Iterator[Node]:
    """Open the node in ``path`` with its store, syncer and an HTTP client to its hub."""
    from detente.node.store import NodeStore  # written in parallel (see the module docstring)
    from detente.node.sync import Syncer

    directory = NodeDir.open(path)
    secret = directory.private_key().private_bytes_raw()
    store = NodeStore.open(directory.database, secret)
    with (
        httpx.Client(base_url=directory.config.hub_url, timeout=60.0) as http,
        Syncer(directory, store, http) as syncer,
    ):
        try:
            yield Node(directory, store, syncer, http, clock)
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

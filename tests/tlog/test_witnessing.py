"""detente.tlog.witnessing: cosignatures from witnesses, published only with quorum.

The integration tests run two real witnesses (uvicorn on 127.0.0.1, random ports, in
threads) and the real storage and sequencer; nothing of ours is mocked.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

from detente.errors import (
    MalformedError,
    NotFoundError,
    QuorumError,
    SignatureError,
    VerificationError,
)
from detente.tlog import witnessing
from detente.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.note import Ed25519Signer, Note, NoteSignature
from detente.tlog.sequencer import Sequencer
from detente.tlog.storage import LogStore
from detente.tlog.witnessing import (
    Publisher,
    WitnessClient,
    WitnessConflictError,
    collect_cosignatures,
)
from detente.witness.app import create_witness_app
from detente.witness.state import WitnessStateStore

ORIGIN = "log.example/detente"
LOG = Ed25519Signer.generate(ORIGIN)
NOW = 1_750_000_000


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<random port> in a thread; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Witness:
    signer: CosignatureSigner
    url: str
    state: WitnessStateStore


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[Witness]]:
    with contextlib.ExitStack() as stack:
        out = []
        for n in (1, 2):
            signer = CosignatureSigner.generate(f"witness{n}.example")
            state = WitnessStateStore(tmp_path / f"witness{n}.db")
            app = create_witness_app(signer, {ORIGIN: LOG.verifier()}, state, lambda: NOW)
            out.append(Witness(signer, stack.enter_context(serve(app)), state))
        yield out


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _clients(witnesses: list[Witness], http: httpx.Client) -> list[WitnessClient]:
    return [WitnessClient(w.url, w.signer.verifier(), http, timeout=5.0) for w in witnesses]


def _post(http: httpx.Client, url: str, old: int, proof: tuple[bytes, ...], note: bytes) -> int:
    body = f"old {old}\n".encode() + b"".join(base64.b64encode(h) + b"\n" for h in proof)
    return http.post(f"{url}/add-checkpoint", content=body + b"\n" + note).status_code


def test_public_api() -> None:
    assert set(witnessing.__all__) == {
        "DEFAULT_TIMEOUT",
        "Publisher",
        "WitnessClient",
        "WitnessConflictError",
        "collect_cosignatures",
    }


def test_inconsistent_checkpoint_gets_no_cosignature_and_is_not_published(
    tmp_path: Path, witnesses: list[Witness], http: httpx.Client
) -> None:
    verifiers = [w.signer.verifier() for w in witnesses]
    # Two stores under the same log key: the log forks after the shared prefix [a, b].
    store_b = LogStore.open(f"sqlite:///{tmp_path / 'b.db'}")
    pub_b = Publisher(store_b, _clients(witnesses, http), 2)
    log_b = Sequencer(store_b, LOG, ORIGIN, clock=lambda: NOW, publisher=pub_b)
    log_b.integrate([b"a", b"b"])
    assert log_b.store.latest_published() is not None
    store_a = LogStore.open(f"sqlite:///{tmp_path / 'a.db'}")
    pub_a = Publisher(store_a, _clients(witnesses, http), 2)
    log_a = Sequencer(store_a, LOG, ORIGIN, clock=lambda: NOW, publisher=pub_a)
    log_a.integrate([b"a", b"b", b"c"])

    published_a = store_a.latest_published()
    assert published_a is not None
    assert published_a.size == 3
    assert published_a.cosigned is not None
    cosigned = open_checkpoint(published_a.cosigned, LOG.verifier(), verifiers, 2)
    assert sorted(name for name, _ in cosigned.cosignatures) == [
        "witness1.example",
        "witness2.example",
    ]
    assert {ts for _, ts in cosigned.cosignatures} == {NOW}
    for w in witnesses:
        state = w.state.get(ORIGIN)
        assert state is not None
        assert (state.size, state.root) == (3, published_a.root)

    # The fork grows to 4 ([a, b, x, y]); both witnesses refuse its proof from A's size 3.
    log_b.integrate([b"x", b"y"])
    fork = log_b.store.latest_checkpoint()
    assert fork is not None
    assert fork.size == 4
    assert not fork.published
    published_b = log_b.store.latest_published()
    assert published_b is not None
    assert published_b.size == 2  # what the fork published before stays its checkpoint
    assert set(pub_b.last_failures) == {"witness1.example", "witness2.example"}
    assert all(type(e) is VerificationError for e in pub_b.last_failures.values())
    with pytest.raises(QuorumError):
        pub_b.publish()
    assert log_b.store.latest_published() == published_b

    # The exact statuses, asked directly: 422 for the failing proof from size 3 ...
    proof = log_b.store.consistency_proof(3, 4)
    for w in witnesses:
        assert _post(http, w.url, 3, proof, fork.note) == 422
        # ... 409 (c2sp.org/tlog-witness) for the same size 3 with another root ...
        same_size = sign_checkpoint(Checkpoint(ORIGIN, 3, log_b.store.tree_root(3)), LOG)
        response = http.post(f"{w.url}/add-checkpoint", content=b"old 3\n\n" + same_size.to_bytes())
        assert (response.status_code, response.content) == (409, b"3\n")
        assert response.headers["content-type"] == "text/x.tlog.size"
        # ... and the witness still holds A's checkpoint.
        state = w.state.get(ORIGIN)
        assert state is not None
        assert (state.size, state.root) == (3, published_a.root)

    # The honest log goes on being cosigned.
    log_a.integrate([b"d"])
    latest = store_a.latest_published()
    assert latest is not None
    assert latest.size == 4


def test_quorum_of_two_with_one_witness_down(
    tmp_path: Path, witnesses: list[Witness], http: httpx.Client
) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
    down = WitnessClient(
        f"http://127.0.0.1:{dead.getsockname()[1]}",
        CosignatureSigner.generate("down.example").verifier(),
        http,
        timeout=2.0,
    )
    try:
        store = LogStore.open(f"sqlite:///{tmp_path / 'log.db'}")
        log = Sequencer(store, LOG, ORIGIN, clock=lambda: NOW)
        log.integrate([b"one", b"two"])
        checkpoint = store.latest_checkpoint()
        assert checkpoint is not None
        clients = [_clients(witnesses, http)[0], down]
        failures: dict[str, Exception] = {}
        with pytest.raises(QuorumError) as info:
            collect_cosignatures(
                Note.from_bytes(checkpoint.note), clients, 2, store.consistency_proof, {}, failures
            )
        assert (info.value.needed, info.value.found) == (2, 1)
        assert isinstance(failures["down.example"], httpx.ConnectError)
        note = collect_cosignatures(
            Note.from_bytes(checkpoint.note), clients, 1, store.consistency_proof, {}
        )
        assert len(note.signatures) == 2
    finally:
        dead.close()


# -- WitnessClient against fake witnesses (no sockets) --------------------------------------


def _fake(answer: Response) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(answer.status_code, headers=dict(answer.headers), content=answer.body)

    return httpx.Client(transport=httpx.MockTransport(handler))


NOTE = sign_checkpoint(Checkpoint(ORIGIN, 5, bytes(32)), LOG)
W = CosignatureSigner.generate("w.example")


def test_conflict_carries_the_size() -> None:
    client = WitnessClient(
        "http://w",
        W.verifier(),
        _fake(Response(b"17\n", 409, headers={"content-type": "text/x.tlog.size"})),
    )
    with pytest.raises(WitnessConflictError) as info:
        client.add_checkpoint(0, (), NOTE)
    assert info.value.size == 17


def test_conflict_without_a_size_is_malformed() -> None:
    client = WitnessClient("http://w", W.verifier(), _fake(Response(b"17", 409)))
    with pytest.raises(MalformedError):
        client.add_checkpoint(0, (), NOTE)


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFoundError), (403, SignatureError), (400, MalformedError), (422, VerificationError)],
)
def test_refusals_map_to_errors(status: int, error: type[Exception]) -> None:
    client = WitnessClient("http://w", W.verifier(), _fake(Response(b"{}", status)))
    with pytest.raises(error):
        client.add_checkpoint(0, (), NOTE)


def test_cosignature_is_verified_before_it_is_accepted() -> None:
    good = W.cosign(NOTE.text.encode(), NOW)
    client = WitnessClient("http://w", W.verifier(), _fake(Response(good.line().encode(), 200)))
    assert client.add_checkpoint(0, (), NOTE) == good
    other = CosignatureSigner.generate("w.example").cosign(NOTE.text.encode(), NOW)
    forged = NoteSignature(good.name, good.key_id, other.signature)
    liar = WitnessClient("http://w", W.verifier(), _fake(Response(forged.line().encode(), 200)))
    with pytest.raises(SignatureError):
        liar.add_checkpoint(0, (), NOTE)
    stranger = WitnessClient("http://w", W.verifier(), _fake(Response(other.line().encode(), 200)))
    with pytest.raises(SignatureError):
        stranger.add_checkpoint(0, (), NOTE)


def test_slow_witness_times_out_without_failing_the_others() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    fast = WitnessClient(
        "http://w",
        W.verifier(),
        _fake(Response(W.cosign(NOTE.text.encode(), NOW).line().encode(), 200)),
    )
    stuck_key = CosignatureSigner.generate("stuck.example").verifier()
    stuck = WitnessClient("http://s", stuck_key, httpx.Client(transport=httpx.MockTransport(slow)))
    failures: dict[str, Exception] = {}
    known: dict[str, int] = {}
    note = collect_cosignatures(NOTE, [stuck, fast], 1, lambda a, b: (), known, failures)
    assert [s.name for s in note.signatures] == [ORIGIN, "w.example"]
    assert isinstance(failures["stuck.example"], httpx.ReadTimeout)
    assert known == {"w.example": 5}

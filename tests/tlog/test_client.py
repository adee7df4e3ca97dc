"""detente.tlog.client and detente.tlog.evidence: a client that trusts nothing the log says.

The log is the real storage, sequencer and tlog-tiles server; the witnesses are the real
witness app; HTTP goes through an in-process ASGI transport (no sockets).
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from detente.errors import (
    ConflictError,
    DetenteError,
    MalformedError,
    NotFoundError,
    QuorumError,
    RootMismatchError,
    SignatureError,
    SplitViewError,
    VerificationError,
)
from detente.tlog import client as client_module
from detente.tlog import evidence
from detente.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from detente.tlog.client import LogClient
from detente.tlog.cosignature import CosignatureSigner
from detente.tlog.evidence import check_split_view, split_view_from_json, split_view_to_json
from detente.tlog.hashing import EMPTY_ROOT
from detente.tlog.note import Ed25519Signer, Note
from detente.tlog.sequencer import Sequencer
from detente.tlog.server import create_log_app
from detente.tlog.storage import LogStore
from detente.tlog.witnessing import Publisher, WitnessClient
from detente.witness.app import create_witness_app
from detente.witness.state import WitnessStateStore
from syncasgi import SyncASGITransport, asgi_client

ORIGIN = "log.example/detente"
LOG = Ed25519Signer.generate(ORIGIN)
VERIFIER = LOG.verifier()
WITNESS_KEYS = [CosignatureSigner.generate(f"w{n}.example") for n in (1, 2)]
WITNESSES = [w.verifier() for w in WITNESS_KEYS]
NOW = 1_760_000_000
URL = "http://testserver"


def _store(tmp_path: Path, name: str) -> LogStore:
    return LogStore.open(f"sqlite:///{tmp_path / name}")


def _client(store: LogStore, state: Path | None, quorum: int = 0) -> LogClient:
    http = asgi_client(create_log_app(store))
    return LogClient(URL, VERIFIER, WITNESSES if quorum else [], quorum, state, http)


def _witness_clients(tmp_path: Path) -> list[WitnessClient]:
    out = []
    for key in WITNESS_KEYS:
        state = WitnessStateStore(tmp_path / f"{key.name}.db")
        app = create_witness_app(key, {ORIGIN: VERIFIER}, state, lambda: NOW)
        out.append(WitnessClient(URL, key.verifier(), asgi_client(app)))
    return out


def _entries(n: int, tag: str = "entry") -> list[bytes]:
    return [f"{tag} {i}".encode() for i in range(n)]


def test_public_api() -> None:
    assert set(client_module.__all__) == {"DEFAULT_TIMEOUT", "LogClient"}
    assert set(evidence.__all__) == {
        "EVIDENCE_TYPE",
        "check_split_view",
        "split_view_from_json",
        "split_view_to_json",
    }


def test_follow_a_growing_log_and_persist(tmp_path: Path) -> None:
    store = _store(tmp_path, "log.db")
    log = Sequencer(store, LOG, ORIGIN, clock=lambda: NOW)
    state = tmp_path / "client" / "trusted.note"
    state.parent.mkdir()
    client = _client(store, state)
    assert client.update().checkpoint.size == 0
    entries = _entries(600)
    for start, stop in ((0, 3), (3, 300), (300, 600)):
        log.integrate(entries[start:stop])
        trusted = client.update()
        assert trusted.checkpoint.size == stop
        assert trusted.checkpoint.root == store.tree_root(stop)
    assert trusted.checkpoint.size == 600
    assert state.read_bytes() == trusted.to_bytes()
    assert sorted(p.name for p in state.parent.iterdir()) == ["trusted.note"]
    # A new client starts from the state file.
    again = _client(store, state)
    assert again.trusted == trusted
    for index in (0, 255, 256, 299, 599):
        assert client.verify_included(entries[index], index) == trusted
        assert len(client.inclusion_proof(index)) > 0
    with pytest.raises(RootMismatchError):
        client.verify_included(b"not the entry", 7)
    with pytest.raises(NotFoundError):
        client.verify_included(b"x", 600)
    assert client.entries(250, 520) == entries[250:520]
    assert client.entries(0, 600) == entries
    assert client.entries(5, 5) == []


def test_quorum_is_required(tmp_path: Path) -> None:
    store = _store(tmp_path, "log.db")
    log = Sequencer(store, LOG, ORIGIN, clock=lambda: NOW)
    log.integrate([b"a"])
    client = _client(store, tmp_path / "state", quorum=2)
    with pytest.raises(QuorumError):
        client.update()
    assert client.trusted is None
    assert not (tmp_path / "state").exists()


def _tamper_tiles(app: object) -> httpx.Client:
    inner = SyncASGITransport(app)  # type: ignore[arg-type]

    def handler(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        if "/tile/0/" in request.url.path and response.status_code == 200:
            data = bytearray(response.content)
            data[0] ^= 1
            return httpx.Response(200, content=bytes(data), request=request)
        return response

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_bad_tiles_are_not_a_split_view(tmp_path: Path) -> None:
    store = _store(tmp_path, "log.db")
    log = Sequencer(store, LOG, ORIGIN, clock=lambda: NOW)
    log.integrate(_entries(5))
    client = LogClient(URL, VERIFIER, [], 0, None, _tamper_tiles(create_log_app(store)))
    client.update()
    log.integrate(_entries(5, "more"))
    with pytest.raises(RootMismatchError) as info:
        client.update()
    assert not isinstance(info.value, SplitViewError)
    assert client.trusted is not None
    assert client.trusted.checkpoint.size == 5
    with pytest.raises(RootMismatchError):
        client.entries(0, 5)


def test_stale_checkpoint_is_a_conflict_not_a_fork(tmp_path: Path) -> None:
    store = _store(tmp_path, "log.db")
    log = Sequencer(store, LOG, ORIGIN, clock=lambda: NOW)
    log.integrate(_entries(4))
    old = store.latest_published()
    assert old is not None
    assert old.cosigned is not None
    log.integrate(_entries(4, "later"))
    client = _client(store, None)
    newest = client.update()
    with pytest.raises(ConflictError):
        client.observe(old.cosigned)
    assert client.trusted == newest


# -- split views ----------------------------------------------------------------------------


Fork = tuple[LogStore, LogStore, Path]


@pytest.fixture
def fork(tmp_path: Path) -> Fork:
    """Log A cosigned at 3 ([a, b, c]); its fork B ([a, b, x, y]) signed at 4, published
    by its hub without cosignatures. Clients of both share the state file it returns."""
    witnesses = _witness_clients(tmp_path)
    store_b = _store(tmp_path, "b.db")
    log_b = Sequencer(
        store_b, LOG, ORIGIN, clock=lambda: NOW, publisher=Publisher(store_b, witnesses, 2)
    )
    log_b.integrate([b"a", b"b"])
    store_a = _store(tmp_path, "a.db")
    log_a = Sequencer(
        store_a, LOG, ORIGIN, clock=lambda: NOW, publisher=Publisher(store_a, witnesses, 2)
    )
    log_a.integrate([b"a", b"b", b"c"])
    log_b.integrate([b"x", b"y"])
    fork = store_b.latest_checkpoint()
    assert fork is not None
    assert not fork.published  # the witnesses refused it
    store_b.publish(fork.size, fork.note)  # a dishonest hub publishes it all the same
    return store_a, store_b, tmp_path / "trusted.note"


def _altered(note: bytes) -> bytes:
    parsed = Note.from_bytes(note)
    lines = parsed.text.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    return Note("\n".join(lines), parsed.signatures).to_bytes()


def test_fork_raises_split_view_with_checkable_evidence(fork: Fork) -> None:
    store_a, store_b, state = fork
    trusted = _client(store_a, state, 2).update()
    assert trusted.checkpoint.size == 3
    with pytest.raises(SplitViewError) as info:
        _client(store_b, state, 2).update()
    error = info.value
    assert error.first == trusted.to_bytes()
    forked = store_b.latest_published()
    assert forked is not None
    assert error.second == forked.cosigned
    assert state.read_bytes() == trusted.to_bytes()

    a, b = check_split_view(error.first, error.second, VERIFIER, error.proof)
    assert (a.size, b.size) == (3, 4)
    again = split_view_from_json(split_view_to_json(error))
    assert (again.first, again.second, again.proof) == (error.first, error.second, error.proof)
    check_split_view(again.second, again.first, VERIFIER, again.proof)

    with pytest.raises(DetenteError):
        check_split_view(_altered(error.first), error.second, VERIFIER, error.proof)
    with pytest.raises(DetenteError):
        check_split_view(error.first, _altered(error.second), VERIFIER, error.proof)
    with pytest.raises(SignatureError):
        check_split_view(error.first, error.second, Ed25519Signer.generate(ORIGIN).verifier())
    bad_proof = (error.proof[0], bytes(32), *error.proof[2:])
    with pytest.raises(VerificationError):
        check_split_view(error.first, error.second, VERIFIER, bad_proof)
    with pytest.raises(VerificationError):
        check_split_view(error.first, error.second, VERIFIER, ())


def test_same_size_fork_raises_split_view(fork: Fork) -> None:
    store_a, store_b, state = fork
    client_a = _client(store_a, state, 2)
    trusted = client_a.update()
    same_size = sign_checkpoint(Checkpoint(ORIGIN, 3, store_b.tree_root(3)), LOG).to_bytes()
    with pytest.raises(SplitViewError) as info:
        client_a.observe(same_size)
    assert (info.value.first, info.value.second, info.value.proof) == (
        trusted.to_bytes(),
        same_size,
        (),
    )
    check_split_view(info.value.first, info.value.second, VERIFIER, info.value.proof)
    assert client_a.trusted == trusted


# -- the pure checker on consistent pairs -----------------------------------------------------


def _signed(store: LogStore, size: int) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, store.tree_root(size)), LOG).to_bytes()


def test_consistent_checkpoints_are_not_evidence(tmp_path: Path) -> None:
    store = _store(tmp_path, "log.db")
    Sequencer(store, LOG, ORIGIN, clock=lambda: NOW).integrate(_entries(40))
    small, large = _signed(store, 13), _signed(store, 40)
    real = (store.tree_root(13), *store.consistency_proof(13, 40))
    with pytest.raises(VerificationError):
        check_split_view(small, large, VERIFIER, real)
    with pytest.raises(VerificationError):
        check_split_view(small, small, VERIFIER)
    with pytest.raises(MalformedError):
        check_split_view(small, small, VERIFIER, real)
    other = Ed25519Signer.generate("other.example/log")
    elsewhere = sign_checkpoint(Checkpoint("other.example/log", 13, bytes(32)), other)
    with pytest.raises(SignatureError):
        check_split_view(small, elsewhere.to_bytes(), VERIFIER)


def test_size_zero_with_a_wrong_root_is_evidence() -> None:
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), LOG).to_bytes()
    wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG).to_bytes()
    later = sign_checkpoint(Checkpoint(ORIGIN, 5, bytes(32)), LOG).to_bytes()
    check_split_view(empty, wrong, VERIFIER)
    check_split_view(later, wrong, VERIFIER)
    with pytest.raises(VerificationError):
        check_split_view(empty, later, VERIFIER)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"type": "other"}',
        b'{"type": "detente/split-view/v1"}',
        b'{"type": "detente/split-view/v1", "first": "a", "second": "b", "proof": ["!"]}',
    ],
)
def test_malformed_evidence_files(data: bytes) -> None:
    with pytest.raises(MalformedError):
        split_view_from_json(data)


def test_open_checkpoint_of_evidence_notes(fork: Fork) -> None:
    store_a, store_b, state = fork
    _client(store_a, state, 2).update()
    with pytest.raises(SplitViewError) as info:
        _client(store_b, state, 2).update()
    # Each note on its own is a valid log-signed checkpoint: anyone can check them.
    for note in (info.value.first, info.value.second):
        open_checkpoint(note, VERIFIER)

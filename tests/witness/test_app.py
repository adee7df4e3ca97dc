"""detente.witness.app: POST /add-checkpoint with the statuses of c2sp.org/tlog-witness."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from detente.tlog.checkpoint import Checkpoint, sign_checkpoint
from detente.tlog.cosignature import CosignatureSigner, CosignatureVerifier
from detente.tlog.hashing import EMPTY_ROOT, leaf_hash, node_hash
from detente.tlog.note import Ed25519Signer, Note, open_note
from detente.tlog.proof import assemble, consistency_plan
from detente.witness import app as app_module
from detente.witness import config
from detente.witness.app import create_witness_app, witness_app_from_dir
from detente.witness.policy import WitnessState
from detente.witness.state import WitnessStateStore
from syncasgi import asgi_client

ORIGIN = "example.org/log"
LOG = Ed25519Signer.generate(ORIGIN)
WITNESS = CosignatureSigner.generate("witness.example/w1")
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(64)]
NOW = 1_700_000_000
PROBLEM = "application/problem+json"


def _mth(hashes: list[bytes]) -> bytes:
    """Naive RFC 9162 MTH over leaf hashes (test reference only)."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _proof(size1: int, size2: int, leaves: list[bytes] = LEAVES) -> list[bytes]:
    plan = consistency_plan(size1, size2)
    ids = plan.ids
    return list(
        assemble(plan, [_mth(leaves[n.index << n.level : (n.index + 1) << n.level]) for n in ids])
    )


def _note(size: int, leaves: list[bytes] = LEAVES, signer: Ed25519Signer = LOG) -> Note:
    return sign_checkpoint(Checkpoint(ORIGIN, size, _mth(leaves[:size])), signer)


def _body(old: int, note: Note, proof: list[bytes] | None = None) -> bytes:
    if proof is None:
        size = Checkpoint.from_text(note.text).size
        proof = _proof(old, size) if 0 < old < size else []
    lines = b"".join(base64.b64encode(h) + b"\n" for h in proof)
    return f"old {old}\n".encode() + lines + b"\n" + note.to_bytes()


@pytest.fixture
def store(tmp_path: Path) -> WitnessStateStore:
    return WitnessStateStore(tmp_path / "state.db")


@pytest.fixture
def client(store: WitnessStateStore) -> Iterator[httpx.Client]:
    app = create_witness_app(WITNESS, {ORIGIN: LOG.verifier()}, store, lambda: NOW)
    with asgi_client(app) as c:
        yield c


def _post(client: httpx.Client, body: bytes) -> tuple[int, str, bytes]:
    r = client.post("/add-checkpoint", content=body)
    return r.status_code, r.headers.get("content-type", ""), r.content


def _cosigned(client: httpx.Client, old: int, size: int) -> None:
    status, _, content = _post(client, _body(old, _note(size)))
    assert status == 200, content


def test_public_api() -> None:
    assert set(app_module.__all__) == {
        "MAX_REQUEST_SIZE",
        "SIZE_CONTENT_TYPE",
        "create_witness_app",
        "witness_app_from_dir",
    }


def test_success_returns_a_verifying_cosignature_and_stores_first(
    client: httpx.Client, store: WitnessStateStore
) -> None:
    note = _note(10)
    status, ctype, content = _post(client, _body(0, note))
    assert status == 200
    assert ctype.startswith("text/plain")
    assert content.startswith("— witness.example/w1 ".encode())
    assert content.count(b"\n") == 1
    _, verified = open_note(note.text.encode() + b"\n" + content, [WITNESS.verifier()])
    assert CosignatureVerifier.timestamp(verified[0].signature) == NOW
    assert store.get(ORIGIN) == WitnessState(10, _mth(LEAVES[:10]))


def test_extension_with_a_proof(client: httpx.Client, store: WitnessStateStore) -> None:
    _cosigned(client, 0, 10)
    _cosigned(client, 10, 37)
    _cosigned(client, 37, 37)  # the same checkpoint again
    assert store.get(ORIGIN) == WitnessState(37, _mth(LEAVES[:37]))


def _assert_problem(result: tuple[int, str, bytes], status: int) -> None:
    assert result[0] == status, result[2]
    assert result[1] == PROBLEM
    assert f'"status":{status}'.encode() in result[2]


def test_unknown_origin_is_404(client: httpx.Client) -> None:
    other = Ed25519Signer.generate("other.org/log")
    note = sign_checkpoint(Checkpoint("other.org/log", 1, LEAVES[0]), other)
    _assert_problem(_post(client, _body(0, note)), 404)


def test_no_trusted_signature_is_403(client: httpx.Client) -> None:
    _assert_problem(_post(client, _body(0, _note(5, signer=Ed25519Signer.generate(ORIGIN)))), 403)


def test_old_beyond_new_is_400(client: httpx.Client) -> None:
    _assert_problem(_post(client, _body(9, _note(5), [])), 400)


def test_malformed_body_is_400(client: httpx.Client) -> None:
    _assert_problem(_post(client, b"old 01\n\n" + _note(5).to_bytes()), 400)
    _assert_problem(_post(client, b""), 400)


def test_too_large_body_is_413(client: httpx.Client) -> None:
    _assert_problem(_post(client, b"old 0\n" + b"A" * (70 * 1024)), 413)


def test_wrong_old_size_is_409_with_the_size(client: httpx.Client) -> None:
    _cosigned(client, 0, 10)
    status, ctype, content = _post(client, _body(4, _note(20)))
    assert (status, ctype, content) == (409, "text/x.tlog.size", b"10\n")
    status, ctype, content = _post(client, _body(0, _note(20)))
    assert (status, ctype, content) == (409, "text/x.tlog.size", b"10\n")


def test_never_cosigned_origin_answers_409_with_zero(client: httpx.Client) -> None:
    status, ctype, content = _post(client, _body(3, _note(20)))
    assert (status, ctype, content) == (409, "text/x.tlog.size", b"0\n")


def test_failing_proof_is_422_and_changes_nothing(
    client: httpx.Client, store: WitnessStateStore
) -> None:
    _cosigned(client, 0, 10)
    forked = [*LEAVES[:4], leaf_hash(b"fork"), *LEAVES[5:]]
    _assert_problem(_post(client, _body(10, _note(20, forked), _proof(10, 20, forked))), 422)
    assert store.get(ORIGIN) == WitnessState(10, _mth(LEAVES[:10]))


def test_non_empty_proof_with_old_zero_is_422(client: httpx.Client) -> None:
    _assert_problem(_post(client, _body(0, _note(8), [bytes(32)])), 422)


def test_same_size_other_root_is_409(client: httpx.Client, store: WitnessStateStore) -> None:
    # c2sp.org/tlog-witness: "If they don't match, the witness MUST respond with a 409".
    _cosigned(client, 0, 10)
    forked = [*LEAVES[:9], leaf_hash(b"fork")]
    status, ctype, content = _post(client, _body(10, _note(10, forked)))
    assert (status, ctype, content) == (409, "text/x.tlog.size", b"10\n")
    assert store.get(ORIGIN) == WitnessState(10, _mth(LEAVES[:10]))


def test_unknown_route_is_a_problem(client: httpx.Client) -> None:
    r = client.get("/nothing")
    assert (r.status_code, r.headers["content-type"]) == (404, PROBLEM)


def test_state_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    app = create_witness_app(WITNESS, {ORIGIN: LOG.verifier()}, WitnessStateStore(path), lambda: 1)
    with asgi_client(app) as first:
        _cosigned(first, 0, 12)
    app = create_witness_app(WITNESS, {ORIGIN: LOG.verifier()}, WitnessStateStore(path), lambda: 2)
    with asgi_client(app) as second:
        assert _post(second, _body(0, _note(20)))[2] == b"12\n"
        _cosigned(second, 12, 20)


class _RacingStore(WitnessStateStore):
    """The real store; a rival request commits between a request's read and its swap."""

    rival: WitnessState | None = None

    def get(self, origin: str) -> WitnessState | None:
        seen = super().get(origin)
        rival, self.rival = self.rival, None
        if rival is not None:
            self.compare_and_swap(origin, seen, rival)
        return seen


def test_concurrent_compare_and_swap_loser_gets_409(tmp_path: Path) -> None:
    store = _RacingStore(tmp_path / "state.db")
    app = create_witness_app(WITNESS, {ORIGIN: LOG.verifier()}, store, lambda: NOW)
    with asgi_client(app) as client:
        _cosigned(client, 0, 10)
        store.rival = WitnessState(30, _mth(LEAVES[:30]))
        status, ctype, content = _post(client, _body(10, _note(20)))
        assert (status, ctype, content) == (409, "text/x.tlog.size", b"30\n")
    assert store.get(ORIGIN) == WitnessState(30, _mth(LEAVES[:30]))


def test_app_from_a_witness_directory(tmp_path: Path) -> None:
    vkey = config.init(tmp_path / "w", "witness.example/dir")
    config.add_log(tmp_path / "w", LOG.verifier().vkey())
    with asgi_client(witness_app_from_dir(tmp_path / "w", lambda: NOW)) as client:
        note = _note(3)
        status, _, content = _post(client, _body(0, note))
    assert status == 200
    open_note(note.text.encode() + b"\n" + content, [CosignatureVerifier.from_vkey(vkey)])

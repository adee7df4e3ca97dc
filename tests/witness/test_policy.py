"""detente.witness.policy: the add-checkpoint decision, pure (no server, no database)."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    SignatureError,
    VerificationError,
)
from detente.tlog.checkpoint import Checkpoint, sign_checkpoint
from detente.tlog.hashing import EMPTY_ROOT, leaf_hash, node_hash
from detente.tlog.note import Ed25519Signer, Note
from detente.tlog.proof import assemble, consistency_plan
from detente.witness import policy
from detente.witness.policy import AddCheckpointRequest, WitnessState, decide

ORIGIN = "example.org/log"
LOG = Ed25519Signer.generate(ORIGIN)
LOGS = {ORIGIN: LOG.verifier()}
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(300)]


def _mth(hashes: list[bytes]) -> bytes:
    """Naive RFC 9162 MTH over leaf hashes (test reference only)."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _proof(size1: int, size2: int, leaves: list[bytes] = LEAVES) -> tuple[bytes, ...]:
    plan = consistency_plan(size1, size2)
    return assemble(
        plan, [_mth(leaves[n.index << n.level : (n.index + 1) << n.level]) for n in plan.ids]
    )


def _note(size: int, leaves: list[bytes] = LEAVES, signer: Ed25519Signer = LOG) -> Note:
    return sign_checkpoint(Checkpoint(ORIGIN, size, _mth(leaves[:size])), signer)


def _request(old: int, size: int, proof: tuple[bytes, ...] | None = None) -> AddCheckpointRequest:
    if proof is None:
        proof = _proof(old, size) if 0 < old < size else ()
    return AddCheckpointRequest.from_bytes(
        AddCheckpointRequest(old, proof, _note(size), Checkpoint(ORIGIN, 1, bytes(32))).to_bytes()
    )


def _state(size: int, leaves: list[bytes] = LEAVES) -> WitnessState:
    return WitnessState(size, _mth(leaves[:size]))


def test_public_api() -> None:
    assert set(policy.__all__) == {
        "MAX_PROOF_LINES",
        "AddCheckpointRequest",
        "WitnessState",
        "decide",
    }


# -- parsing --------------------------------------------------------------------------------


def test_parse_spec_shaped_request() -> None:
    note = _note(20)
    proof = _proof(7, 20)
    body = b"old 7\n" + b"".join(base64.b64encode(h) + b"\n" for h in proof) + b"\n"
    request = AddCheckpointRequest.from_bytes(body + note.to_bytes())
    assert request.old_size == 7
    assert request.proof == proof
    assert request.note == note
    assert request.checkpoint == Checkpoint(ORIGIN, 20, _mth(LEAVES[:20]))
    assert request.to_bytes() == body + note.to_bytes()


@given(
    old=st.integers(min_value=0, max_value=(1 << 64) - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=63),
)
@settings(max_examples=50)
def test_request_round_trip(old: int, proof: list[bytes]) -> None:
    note = _note(3)
    request = AddCheckpointRequest(old, tuple(proof), note, Checkpoint.from_text(note.text))
    assert AddCheckpointRequest.from_bytes(request.to_bytes()) == request


@given(st.binary(max_size=200))
@settings(max_examples=200)
def test_garbage_is_malformed_never_another_error(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        AddCheckpointRequest.from_bytes(data)


def _body(head: bytes) -> bytes:
    return head + _note(5).to_bytes()


HASH64 = base64.b64encode(bytes(32))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (_body(b"old 01\n\n"), "leading zero"),
        (_body(b"old -1\n\n"), "negative"),
        (_body(b"old  1\n\n"), "two spaces"),
        (_body(b"Old 1\n\n"), "capital"),
        (_body(b"old 1\r\n\r\n"), "CRLF"),
        (_body(b"old 1\n"), "no blank line"),
        (b"old 1\n" + HASH64 + b"\n", "ends before the blank line"),
        (_body(b"old 1\n" + HASH64 + b"\n" * 64 + b"\n"), "64 proof lines"),
        (_body(b"old 1\n" + HASH64.rstrip(b"=") + b"\n\n"), "unpadded base64"),
        (_body(b"old 1\n" + base64.b64encode(bytes(31)) + b"\n\n"), "31-byte hash"),
        (_body(b"old 1\n" + base64.urlsafe_b64encode(b"\xff" * 32) + b"\n\n"), "url base64"),
        (_body(b"old 1\n" + HASH64[:-2] + b"B=" + b"\n\n"), "non-canonical base64"),
        (b"old 1\n\n" + _note(5).to_bytes()[:-1], "note without its final newline"),
        (b"old 1\n\n", "no note"),
        (b"old 1\n\n" + b"not\na\ncheckpoint\n\n" + _note(5).to_bytes().split(b"\n\n")[1], "text"),
    ],
)
def test_malformed_requests(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedError):
        AddCheckpointRequest.from_bytes(body)


def test_sixty_three_proof_lines_are_accepted() -> None:
    body = b"old 1\n" + (HASH64 + b"\n") * 63 + b"\n" + _note(5).to_bytes()
    assert len(AddCheckpointRequest.from_bytes(body).proof) == 63


# -- the decision, in the order of c2sp.org/tlog-witness --------------------------------------


def test_unknown_origin_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        decide(_request(0, 5), {"other.org/log": LOG.verifier()}, None)


def test_no_trusted_signature_is_signature_error() -> None:
    impostor = Ed25519Signer.generate(ORIGIN)  # same name, other key: unknown key id
    note = _note(5, signer=impostor)
    request = AddCheckpointRequest(0, (), note, Checkpoint.from_text(note.text))
    with pytest.raises(SignatureError):
        decide(request, LOGS, None)


def test_forged_trusted_signature_is_signature_error() -> None:
    good = _note(5)
    forged = Note(good.text.replace("5\n", "6\n", 1), good.signatures)
    request = AddCheckpointRequest(0, (), forged, Checkpoint.from_text(forged.text))
    with pytest.raises(SignatureError):
        decide(request, LOGS, None)


def test_other_signatures_are_ignored() -> None:
    other = Ed25519Signer.generate("someone.else/key")
    note = _note(5)
    extra = Note(note.text, (*note.signatures, *_note(5, signer=other).signatures))
    request = AddCheckpointRequest(0, (), extra, Checkpoint.from_text(note.text))
    assert decide(request, LOGS, None) == _state(5)


def test_old_beyond_new_is_malformed() -> None:
    with pytest.raises(MalformedError):
        decide(_request(9, 5, ()), LOGS, _state(9))


def test_first_checkpoint_is_accepted_from_zero() -> None:
    assert decide(_request(0, 5), LOGS, None) == _state(5)


def test_old_size_not_stored_size_is_conflict() -> None:
    with pytest.raises(ConflictError):
        decide(_request(3, 8), LOGS, _state(4))
    with pytest.raises(ConflictError):
        decide(_request(0, 8), LOGS, _state(4))
    with pytest.raises(ConflictError):
        decide(_request(4, 8), LOGS, None)


def test_valid_consistency_is_accepted() -> None:
    assert decide(_request(4, 8), LOGS, _state(4)) == _state(8)


def test_non_empty_proof_with_old_zero_fails() -> None:
    with pytest.raises(VerificationError):
        decide(_request(0, 8, (bytes(32),)), LOGS, None)


def test_same_size_same_root_is_cosigned_again() -> None:
    assert decide(_request(8, 8), LOGS, _state(8)) == _state(8)


def test_same_size_other_root_is_conflict() -> None:
    forked = [*LEAVES[:7], leaf_hash(b"forked")]
    with pytest.raises(ConflictError):
        decide(_request(8, 8), LOGS, _state(8, forked))


def test_same_size_with_proof_fails() -> None:
    with pytest.raises(VerificationError):
        decide(_request(8, 8, (bytes(32),)), LOGS, _state(8))


def test_proof_from_a_fork_fails() -> None:
    forked = [*LEAVES[:3], leaf_hash(b"forked"), *LEAVES[4:]]
    # The witness cosigned the fork at size 6; the log now proves from its real tree.
    with pytest.raises(VerificationError) as info:
        decide(_request(6, 20), LOGS, _state(6, forked))
    assert not isinstance(info.value, SignatureError)


def test_proof_of_wrong_length_fails_as_unverifiable() -> None:
    proof = _proof(6, 20)
    with pytest.raises(VerificationError):
        decide(_request(6, 20, proof[:-1]), LOGS, _state(6))


def test_empty_stored_tree_extends_to_anything() -> None:
    assert decide(_request(0, 8), LOGS, _state(0)) == _state(8)


def test_size_zero_needs_the_empty_root() -> None:
    assert decide(_request(0, 0), LOGS, None) == WitnessState(0, EMPTY_ROOT)
    bad = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG)
    request = AddCheckpointRequest(0, (), bad, Checkpoint.from_text(bad.text))
    with pytest.raises(ConflictError):
        decide(request, LOGS, None)


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_any_valid_extension_is_accepted_and_any_bit_flip_is_refused(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(min_value=2, max_value=len(LEAVES)))
    size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1))
    proof = _proof(size1, size2)
    assert decide(_request(size1, size2, proof), LOGS, _state(size1)) == _state(size2)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        bad = bytearray(proof[i])
        bad[bit // 8] ^= 1 << (bit % 8)
        tampered = (*proof[:i], bytes(bad), *proof[i + 1 :])
        with pytest.raises(VerificationError):
            decide(_request(size1, size2, tampered), LOGS, _state(size1))

"""The signature verifier: worker processes and threads that fill the verification memo.

Pre-verification decides nothing; these tests check that what it puts in the memo is exactly
the signatures that verify by the keys given, that a chunk the caller takes is verified in
its own thread, and that a dead worker, a cancelled check or a closed verifier only means
less was pre-verified.
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import wait

import pytest
from examples import forged, party_key, public_key

from detente.errors import SignatureError
from detente.statements import envelope as envelope_module
from detente.statements.envelope import (
    Envelope,
    key_id,
    remember_verified,
    sign_envelope,
    verified_signatures,
    verify_signature,
)
from detente.statements.verifier import Verifier

SIGNER = "verifier-signer"
STRANGER = "verifier-stranger"
KEYS = {key_id(public_key(SIGNER)): public_key(SIGNER)}


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> envelope_module._VerifiedMemo:
    memo = envelope_module._VerifiedMemo(envelope_module._MEMO_SIZE)
    monkeypatch.setattr(envelope_module, "_VERIFIED", memo)
    return memo


def _entries(count: int, signer: str = SIGNER) -> list[bytes]:
    return [sign_envelope(b'{"n":%d}' % n, [party_key(signer)]).to_bytes() for n in range(count)]


def _mixed(count: int) -> tuple[list[bytes], set[int]]:
    """``count`` entries; every 7th forged, every 11th by a stranger, one not an envelope."""
    entries = _entries(count)
    stranger = _entries(count, STRANGER)
    good = set()
    for n in range(count):
        if n % 7 == 3:
            entries[n] = forged(entries[n])
        elif n % 11 == 5:
            entries[n] = stranger[n]
        elif n == 1:
            entries[n] = b"not an envelope"
        else:
            good.add(n)
    return entries, good


def _memo_holds(entry: bytes) -> bool:
    """Whether ``verify_signature`` would answer ``entry`` from the memo."""
    envelope = Envelope.from_bytes(entry)
    [signature] = envelope.signatures
    message = envelope_module.pae(envelope.payload_type, envelope.payload)
    digest = envelope_module.hashlib.sha256(message).digest()
    return (public_key(SIGNER), signature.keyid, signature.sig, digest) in envelope_module._VERIFIED


# -- the pure part ----------------------------------------------------------------------------


def test_verified_signatures_are_exactly_those_that_verify_by_the_keys_given() -> None:
    entries, good = _mixed(40)
    found = verified_signatures(entries, KEYS)
    assert len(found) == len(good)
    assert len(envelope_module._VERIFIED) == 0  # it remembers nothing itself
    assert remember_verified(found) == len(good)
    for n, entry in enumerate(entries):
        if n in good:
            assert _memo_holds(entry)
            verify_signature(Envelope.from_bytes(entry), public_key(SIGNER))
        elif n != 1 and n % 11 != 5:
            with pytest.raises(SignatureError):
                verify_signature(Envelope.from_bytes(entry), public_key(SIGNER))


def test_a_key_under_another_keyid_is_not_taken() -> None:
    entries = _entries(3)
    wrong = {key_id(public_key(SIGNER)): public_key(STRANGER)}
    assert verified_signatures(entries, wrong) == []


# -- processes ------------------------------------------------------------------------------


def test_worker_processes_fill_the_memo_chunk_by_chunk() -> None:
    entries, good = _mixed(300)
    with Verifier(processes=1, threads=1, chunk=64, small=100) as verifier:
        checks = verifier.start(entries, KEYS)
        # Small chunks first, then whole ones; together they cover every entry once.
        assert [c.stop - c.start for c in checks] == [16, 32, 64, 64, 64, 60]
        assert [c.start for c in checks[1:]] == [c.stop for c in checks[:-1]]
        wait([c.done for c in checks], timeout=60)
        assert sum(c.done.result() for c in checks) == len(good)
    assert all(_memo_holds(entries[n]) for n in good)
    assert len(envelope_module._VERIFIED) == len(good)


def test_the_caller_can_take_a_chunk_no_worker_started() -> None:
    entries = _entries(600)
    with Verifier(processes=1, threads=1, chunk=32, small=100) as verifier:
        checks = verifier.start(entries, KEYS)
        last = checks[-1]
        # The single worker is busy with the first chunks; the last one is still queued.
        assert last.take()
        assert last.done.result(timeout=0) == last.stop - last.start
        assert all(_memo_holds(e) for e in entries[last.start : last.stop])
        assert not last.take()  # done: nothing left to take
        wait([c.done for c in checks], timeout=60)
        assert sum(c.done.result() for c in checks) == len(entries)


def test_a_dead_worker_only_means_less_was_pre_verified() -> None:
    entries = _entries(400)
    with Verifier(processes=1, threads=1, chunk=32, small=100) as verifier:
        verifier.warm()
        pool = verifier._process_pool
        assert pool is not None
        wait([verifier.start(entries[:200], KEYS)[0].done], timeout=60)  # the worker is up
        for process in list(pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
        checks = verifier.start(entries[200:], KEYS)
        wait([c.done for c in checks], timeout=60)
        assert all(c.done.done() and not c.done.cancelled() for c in checks)
        # A new pool serves the next run.
        again = verifier.start(entries[200:], KEYS)
        wait([c.done for c in again], timeout=60)
        assert sum(c.done.result() for c in again) == 200


@pytest.mark.parametrize("give_up", ["take", "cancel"])
def test_a_worker_dying_with_chunks_taken_or_given_up_leaves_no_check_hanging(
    give_up: str,
) -> None:
    """Taken or cancelled chunks never sit cancelled in the pool: CPython 3.11's pool would
    stop for good when a worker dies then, leaving every later check waiting forever."""
    entries = _entries(1200)
    with Verifier(processes=1, threads=1, chunk=32, small=100) as verifier:
        wait([verifier.start(entries[:200], KEYS)[0].done], timeout=60)  # the worker is up
        pool = verifier._process_pool
        assert pool is not None
        checks = verifier.start(entries, KEYS)
        if give_up == "take":
            assert checks[-1].take()
        else:
            checks[-1].done.cancel()
        more = verifier.start(entries[:600], KEYS)
        for process in list(pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
        _, pending = wait([c.done for c in checks[:-1] + more], timeout=60)
        assert not pending
        # And a new pool verifies the next run in full.
        again = verifier.start(entries[:300], KEYS)
        wait([c.done for c in again], timeout=60)
        assert sum(c.done.result() for c in again) == 300


def test_workers_that_keep_dying_are_given_up_on() -> None:
    entries = _entries(300)
    with Verifier(processes=1, threads=1, chunk=32, small=100) as verifier:
        for _ in range(3):
            wait([verifier.start(entries[:200], KEYS)[0].done], timeout=60)
            pool = verifier._process_pool
            assert pool is not None
            for process in list(pool._processes.values()):  # type: ignore[union-attr]
                os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            wait([c.done for c in verifier.start(entries, KEYS)], timeout=60)
        checks = verifier.start(entries, KEYS)
        # Given up: every check completes at once with nothing verified; apply verifies.
        assert all(c.done.result(timeout=0) == 0 for c in checks)
        assert verifier._process_pool is None


def test_a_cancelled_check_is_dropped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    entries = _entries(600)
    with Verifier(processes=1, threads=1, chunk=32, small=100) as verifier:
        checks = verifier.start(entries, KEYS)
        for check in checks:
            check.done.cancel()
        more = verifier.start(entries[:200], KEYS)
        wait([c.done for c in more], timeout=60)
        assert sum(c.done.result() for c in more) == 200
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]


# -- threads and nothing ----------------------------------------------------------------------


def test_a_small_run_is_verified_in_threads_as_one_check() -> None:
    entries, good = _mixed(50)
    with Verifier(processes=1, threads=2, small=100) as verifier:
        [check] = verifier.start(entries, KEYS)
        assert (check.start, check.stop) == (0, 50)
        assert check.done.result(timeout=60) == len(good)
        assert not check.take()  # thread checks are never taken
    assert all(_memo_holds(entries[n]) for n in good)


def test_a_closed_or_disabled_verifier_starts_nothing() -> None:
    entries = _entries(5)
    verifier = Verifier(processes=0, threads=0)
    assert verifier.start(entries, KEYS) == []
    verifier = Verifier(processes=1, threads=1)
    verifier.close()
    assert verifier.start(entries, KEYS) == []
    verifier.warm()  # no error, no pool
    assert verifier._process_pool is None

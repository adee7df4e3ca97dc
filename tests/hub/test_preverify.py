"""Ingest speed-ups change no outcome: pre-verified signatures, the batch splitter, the GC.

The service pre-verifies signatures before applying (in threads for a small request, in
worker processes for a large one); a service without either must answer every request the
same. The batch body's fast path must give exactly the
entries of the general decode-and-re-encode path, and refuse the same bodies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
from pathlib import Path

import pytest

from detente.errors import MalformedError, RejectedError, TooLargeError
from detente.hub.app import _batch_entries
from detente.hub.config import HubDir
from detente.hub.instance import GC_THRESHOLD, found, open_hub, tuned_gc
from detente.hub.service import BatchRefusedError, HubService
from detente.statements import envelope as envelope_module
from detente.statements.envelope import sign_envelope
from detente.statements.kinds import ContactUpdate
from group.scenario import BLUELAND, REDLAND, Chain, build_genesis, party_key
from hub.harness import ORIGIN, issued_start
from statements.examples import forged

EMPTY = ContactUpdate(contacts=())


def _founded(path: Path) -> tuple[HubDir, Chain, dt.datetime]:
    directory = HubDir.create(path, ORIGIN)
    start = issued_start()
    chain = Chain()
    body = build_genesis(start, log_origin=ORIGIN, log_vkey=directory.log.vkey)
    found(directory, chain.genesis(body, start, [BLUELAND, REDLAND]))
    return directory, chain, start


@pytest.mark.parametrize(
    ("workers", "size"),
    [(0, 80), (2, 80), (2, 300)],
    ids=["none", "threads", "processes"],  # more than 128 entries go to worker processes
)
def test_pre_verification_changes_no_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, size: int
) -> None:
    memo = envelope_module._VerifiedMemo(1000)
    monkeypatch.setattr(envelope_module, "_VERIFIED", memo)
    directory, chain, start = _founded(tmp_path / "hub")
    good = [chain.make(author, EMPTY, start) for author in [BLUELAND, REDLAND] * (size // 2)]
    bad = forged(chain.make(BLUELAND, EMPTY, start, advance=False))
    # Signed by Blueland's key (a valid signature, so pre-verified) but authored by Redland.
    wrong_signer = chain.make(REDLAND, EMPTY, start, signers=[BLUELAND], advance=False)

    async def main() -> None:
        with open_hub(directory) as hub:
            service = HubService(hub.service.sequencer, hub.service.state, verify_workers=workers)
            for refused, position, rule in [
                ([*good[:50], bad, *good[50:]], 50, "bad-signature"),
                ([*good, wrong_signer], size, "bad-signature"),
                ([*good[: size - 1], bad], size - 1, "bad-signature"),
                ([*good[:3], b"{}", *good[3:]], 3, None),
            ]:
                with pytest.raises(BatchRefusedError) as caught:
                    await service.submit(refused, batch=True)
                assert caught.value.position == position
                if rule is None:
                    assert isinstance(caught.value.cause, MalformedError)
                else:
                    assert isinstance(caught.value.cause, RejectedError)
                    assert caught.value.cause.rule == rule
            assert service.state.size == 1
            assert await service.submit(good, batch=True) == list(range(1, size + 1))
            await service.close()
            log_state = hub.store.state()
            assert log_state is not None
            assert log_state.size == size + 1

    asyncio.run(main())
    # With the pool, the good entries were verified ahead (and only successes remembered).
    assert (len(memo) >= len(good)) == (workers > 0)


def _canonical_batch() -> tuple[bytes, list[bytes]]:
    entries = [sign_envelope(b'{"n":%d}' % n, [party_key(BLUELAND)]).to_bytes() for n in range(3)]
    return b"[" + b",".join(entries) + b"]", entries


def test_batch_fast_path_gives_the_general_paths_entries() -> None:
    body, entries = _canonical_batch()
    assert _batch_entries(body, 10) == entries
    # The same array with whitespace, or keys in another order, takes the general path and
    # still gives the canonical bytes of each envelope.
    spaced = json.dumps([json.loads(e) for e in entries], indent=2).encode()
    assert _batch_entries(spaced, 10) == entries


@pytest.mark.parametrize("spaced", [False, True])
def test_batch_limits_hold_on_both_paths(spaced: bool) -> None:
    body, entries = _canonical_batch()
    if spaced:
        body = json.dumps([json.loads(e) for e in entries], indent=1).encode()
    with pytest.raises(TooLargeError, match="3 statements, more than 2"):
        _batch_entries(body, 2)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[]", MalformedError),
        (b"{}", MalformedError),
        (b"[1]", BatchRefusedError),
        (b"[{}, 2]", BatchRefusedError),
        (b"[", MalformedError),
    ],
)
def test_batch_refusals_are_unchanged(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        _batch_entries(body, 10)


def test_tuned_gc_is_counted_and_undone() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with tuned_gc():
        assert gc.get_threshold() == GC_THRESHOLD
        with tuned_gc():
            assert gc.get_threshold() == GC_THRESHOLD
        assert gc.get_threshold() == GC_THRESHOLD  # the outer user still holds it
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() <= frozen


def test_requests_are_applied_in_the_order_they_were_made(tmp_path: Path) -> None:
    # The first request's signatures take longest to check; the second depends on it. The
    # second must still wait its turn (it would be refused as a seq gap if it went first).
    directory, chain, start = _founded(tmp_path / "hub")
    first = [chain.make(BLUELAND, EMPTY, start) for _ in range(96)]
    second = chain.make(BLUELAND, EMPTY, start)

    async def main() -> list[list[int]]:
        with open_hub(directory) as hub:
            service = HubService(hub.service.sequencer, hub.service.state, verify_workers=2)
            results = await asyncio.gather(
                service.submit(first, batch=True), service.submit([second])
            )
            await service.close()
            return list(results)

    assert asyncio.run(main()) == [list(range(1, 97)), [97]]

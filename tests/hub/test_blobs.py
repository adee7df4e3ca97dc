"""The hub's blob store over HTTP: chunked resumable upload, verified hash, Range download."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto.age import AGE_HEADER
from detente.crypto.blob import BlobRef
from detente.errors import MalformedError
from detente.hub import blobs
from detente.hub.blobs import BlobStore, _content_range
from hub.blobhub import AUTH, BlobHub, running_blob_hub

# The hub stores only age ciphertext: what it checks is the age v1 header line.
DATA = AGE_HEADER + os.urandom(300_000)
DIGEST = hashlib.sha256(DATA).hexdigest()
PROBLEM = "application/problem+json"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[BlobHub]:
    with running_blob_hub(tmp_path / "hub") as running:
        yield running


def _start(hub: BlobHub, data: bytes = DATA, digest: str = DIGEST) -> httpx.Response:
    return hub.http.post("/v1/blobs/uploads", json={"sha256": digest, "size": len(data)})


def _put(hub: BlobHub, location: str, data: bytes, start: int, end: int) -> httpx.Response:
    headers = {"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"}
    return hub.http.put(location, content=data[start:end], headers=headers)


def test_public_api() -> None:
    assert set(blobs.__all__) == {
        "BLOB_MEDIA_TYPE",
        "DEFAULT_MAX_BLOB_SIZE",
        "BlobStore",
        "Upload",
        "create_blob_router",
    }


def test_members_only(hub: BlobHub) -> None:
    with httpx.Client(base_url=hub.url) as anonymous:
        for answer in (
            anonymous.post("/v1/blobs/uploads", json={"sha256": DIGEST, "size": 1}),
            anonymous.get(f"/v1/blobs/{DIGEST}"),
        ):
            assert answer.status_code == 401
            assert answer.headers["content-type"] == PROBLEM


def test_chunked_upload_then_download(hub: BlobHub) -> None:
    started = _start(hub)
    assert started.status_code == 201
    location = started.headers["location"]
    assert started.json()["offset"] == 0
    answer = _put(hub, location, DATA, 0, 100_000)
    assert answer.status_code == 202
    assert answer.json()["offset"] == 100_000
    assert answer.headers["upload-offset"] == "100000"
    assert hub.http.head(location).headers["upload-offset"] == "100000"
    assert _put(hub, location, DATA, 100_000, 200_000).status_code == 202
    done = _put(hub, location, DATA, 200_000, len(DATA))
    assert done.status_code == 201
    assert done.json() == {"sha256": DIGEST, "size": len(DATA), "complete": True}
    assert done.headers["location"] == f"/v1/blobs/{DIGEST}"
    # Content-addressed on disk: blobs/ab/cdef...; the upload's files are gone.
    assert hub.stored() == [hub.directory / "blobs" / DIGEST[:2] / DIGEST[2:]]
    assert hub.uploads() == []
    got = hub.http.get(f"/v1/blobs/{DIGEST}")
    assert got.status_code == 200
    assert got.content == DATA
    assert got.headers["etag"] == f'"{DIGEST}"'
    assert hub.http.get(location).status_code == 404
    # Uploading it again is not needed.
    again = _start(hub)
    assert again.status_code == 200
    assert again.json()["complete"] is True


def test_range_download(hub: BlobHub) -> None:
    location = _start(hub).headers["location"]
    assert _put(hub, location, DATA, 0, len(DATA)).status_code == 201
    part = hub.http.get(f"/v1/blobs/{DIGEST}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == DATA[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(DATA)}"
    tail = hub.http.get(f"/v1/blobs/{DIGEST}", headers={"Range": "bytes=299990-"})
    assert tail.content == DATA[299_990:]
    head = hub.http.head(f"/v1/blobs/{DIGEST}")
    assert head.headers["content-length"] == str(len(DATA))
    beyond = hub.http.get(f"/v1/blobs/{DIGEST}", headers={"Range": "bytes=400000-"})
    assert beyond.status_code == 416


def test_wrong_hash_is_refused_and_nothing_stored(hub: BlobHub) -> None:
    claimed = hashlib.sha256(b"something else").hexdigest()
    location = _start(hub, DATA, claimed).headers["location"]
    answer = _put(hub, location, DATA, 0, len(DATA))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert "nothing was stored" in answer.json()["detail"]
    assert hub.stored() == []
    assert hub.uploads() == []
    assert hub.http.get(f"/v1/blobs/{claimed}").status_code == 404
    assert hub.http.get(f"/v1/blobs/{DIGEST}").status_code == 404


def test_chunk_at_the_wrong_offset_is_a_conflict(hub: BlobHub) -> None:
    location = _start(hub).headers["location"]
    assert _put(hub, location, DATA, 0, 1000).status_code == 202
    answer = _put(hub, location, DATA, 5000, 6000)
    assert answer.status_code == 409
    assert answer.headers["upload-offset"] == "1000"
    replay = _put(hub, location, DATA, 0, 1000)
    assert replay.status_code == 409


def test_body_not_matching_its_range_is_dropped(hub: BlobHub) -> None:
    location = _start(hub).headers["location"]
    header = {"Content-Range": f"bytes 0-999/{len(DATA)}"}
    longer = hub.http.put(location, content=iter([DATA[:1500]]), headers=header)
    assert longer.status_code == 400
    shorter = hub.http.put(location, content=iter([DATA[:500]]), headers=header)
    assert shorter.status_code == 400
    assert hub.http.head(location).headers["upload-offset"] == "0"


@pytest.mark.parametrize(
    "header",
    [None, "bytes 0-9", "bytes 9-0/300000", "bytes 0-9/300001", "bytes 0-300000/300000", "x"],
)
def test_bad_content_range_is_malformed(hub: BlobHub, header: str | None) -> None:
    location = _start(hub).headers["location"]
    headers = {} if header is None else {"Content-Range": header}
    answer = hub.http.put(location, content=b"0123456789", headers=headers)
    assert answer.status_code == 400


def test_resume_after_the_connection_breaks_mid_chunk(hub: BlobHub) -> None:
    started = _start(hub).json()
    location = f"/v1/blobs/uploads/{started['id']}"
    # A raw request announcing 200,000 bytes that sends 120,000 and hangs up.
    parts = urlsplit(hub.url)
    request = (
        f"PUT {location} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Length: 200000\r\n"
        f"Content-Range: bytes 0-199999/{len(DATA)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(request + DATA[:120_000])
        time.sleep(0.3)
    offset = 0
    for _ in range(50):
        offset = int(hub.http.head(location).headers["upload-offset"])
        if offset == 120_000:
            break
        time.sleep(0.1)
    assert offset == 120_000  # what arrived is kept
    # Starting the same upload again finds it, with its committed offset.
    resumed = _start(hub)
    assert resumed.status_code == 200
    assert resumed.json()["id"] == started["id"]
    assert resumed.json()["offset"] == 120_000
    assert _put(hub, location, DATA, 120_000, len(DATA)).status_code == 201
    assert hub.http.get(f"/v1/blobs/{DIGEST}").content == DATA


def test_size_limit(tmp_path: Path) -> None:
    with running_blob_hub(tmp_path / "hub", max_size=1000) as small:
        answer = _start(small)
        assert answer.status_code == 413
        assert answer.headers["content-type"] == PROBLEM
        assert small.uploads() == []


@pytest.mark.parametrize(
    "body",
    [
        {"sha256": DIGEST.upper(), "size": 1},
        {"sha256": DIGEST, "size": 0},
        {"sha256": DIGEST},
        {"sha256": DIGEST, "size": 1, "more": 1},
    ],
)
def test_bad_upload_requests(hub: BlobHub, body: dict[str, object]) -> None:
    assert hub.http.post("/v1/blobs/uploads", json=body).status_code == 400


def test_unknown_things_are_not_found(hub: BlobHub) -> None:
    assert hub.http.get(f"/v1/blobs/{'0' * 64}").status_code == 404
    assert hub.http.get("/v1/blobs/not-a-hash").status_code == 400
    assert hub.http.head("/v1/blobs/uploads/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert hub.http.get("/v1/blobs/uploads/../../x").status_code == 404


def test_abandon_an_upload(hub: BlobHub) -> None:
    location = _start(hub).headers["location"]
    assert _put(hub, location, DATA, 0, 1000).status_code == 202
    assert hub.http.delete(location).status_code == 204
    assert hub.uploads() == []
    assert hub.http.delete(location).status_code == 404


def test_stale_uploads_are_pruned(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    ref = BlobRef(bytes.fromhex(DIGEST), len(DATA))
    upload = store.start(ref, time.time())
    assert store.upload(upload.id) == upload
    store.prune(time.time())
    assert store.upload(upload.id) == upload
    store.prune(time.time() + 2 * 24 * 3600)
    assert list((tmp_path / "blobs" / "uploads").iterdir()) == []


@given(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(1, 2**40))
def test_content_range_parser(first: int, last: int, size: int) -> None:
    header = f"bytes {first}-{last}/{size}"
    try:
        start, end = _content_range(header, size)
    except MalformedError:
        assert not first <= last < size
        return
    assert (start, end) == (first, last + 1)
    assert 0 <= start < end <= size


def test_an_upload_that_is_not_age_ciphertext_is_refused_and_nothing_stored(hub: BlobHub) -> None:
    plain = b"CANARY plaintext evidence that nobody encrypted\n" * 100
    digest = hashlib.sha256(plain).hexdigest()
    location = _start(hub, plain, digest).headers["location"]
    answer = _put(hub, location, plain, 0, len(plain))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert "not age v1 ciphertext" in answer.json()["detail"]
    assert hub.stored() == []
    assert hub.uploads() == []
    assert hub.http.get(f"/v1/blobs/{digest}").status_code == 404

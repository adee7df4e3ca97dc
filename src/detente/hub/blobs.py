"""The hub's evidence blobs: content-addressed ciphertext, resumable chunked upload, members only.

The hub never sees plaintext: nodes encrypt (age) before uploading, and a blob's address is
the SHA-256 of the ciphertext the hub stores. An upload whose bytes do not start with the age
v1 header line is refused when it completes (422, nothing stored): the hub stores only age
ciphertext. Endpoints (all need a member's bearer token)::

    POST   /v1/blobs/uploads          {sha256, size} -> 201 {id, offset}; the same {sha256,
                                      size} again resumes the unfinished upload (200 {id,
                                      offset}); a blob already stored -> 200 {complete: true}
    PUT    /v1/blobs/uploads/{id}     one chunk, ``Content-Range: bytes a-b/size``, starting
                                      at the committed offset (else 409 with Upload-Offset)
                                      -> 202 {offset}; the last chunk checks SHA-256 and size
                                      and stores the blob -> 201, or 422 and nothing stored
    GET    /v1/blobs/uploads/{id}     {id, sha256, size, offset} (HEAD: Upload-Offset header)
    DELETE /v1/blobs/uploads/{id}     abandon an upload
    GET    /v1/blobs/{sha256}         the ciphertext, streamed; ``Range`` gives 206 (HEAD too)

Layout under the hub directory: ``blobs/ab/cdef...`` (the hex SHA-256 split after two
digits) and ``blobs/uploads/{id}.part`` + ``{id}.json`` for unfinished uploads. The committed
offset of an upload is its ``.part`` file's length, so an upload survives a hub restart, and
bytes that arrived before a connection broke are kept. Unfinished uploads untouched for a day
are removed when the next upload starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from detente.crypto.age import AGE_HEADER
from detente.crypto.blob import BlobRef, parse_sha256
from detente.errors import (
    ConflictError,
    MalformedError,
    NotFoundError,
    StorageError,
    TooLargeError,
    VerificationError,
)
from detente.problem import problem_response

__all__ = [
    "BLOB_MEDIA_TYPE",
    "DEFAULT_MAX_BLOB_SIZE",
    "BlobStore",
    "Upload",
    "create_blob_router",
]

DEFAULT_MAX_BLOB_SIZE = 2 * 1024**3
BLOB_MEDIA_TYPE = "application/octet-stream"
_STALE_AFTER = 24 * 3600.0
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_RANGE = re.compile(r"bytes (\d{1,19})-(\d{1,19})/(\d{1,19})")
_READ = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """An unfinished upload: the blob it will be, and how many bytes the hub holds."""

    id: str
    ref: BlobRef
    offset: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.ref.to_json(), "offset": self.offset, "complete": False}


class BlobStore:
    """Content-addressed ciphertext files under ``root`` and the uploads in progress."""

    def __init__(self, root: Path, max_size: int = DEFAULT_MAX_BLOB_SIZE) -> None:
        self.root = root
        self.max_size = max_size
        self._uploads = root / "uploads"
        self._uploads.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: bytes) -> Path:
        name = sha256.hex()
        return self.root / name[:2] / name[2:]

    def stored(self, sha256: bytes) -> BlobRef | None:
        """The stored blob with this hash, or None."""
        try:
            size = self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None
        return BlobRef(sha256, size)

    def start(self, ref: BlobRef, now: float) -> Upload:
        """A new upload of ``ref``, or the unfinished one for the same hash and size."""
        if ref.size > self.max_size:
            raise TooLargeError(f"a blob of {ref.size} bytes is over the limit of {self.max_size}")
        self.prune(now)
        for meta in self._uploads.glob("*.json"):
            upload = self._read(meta.stem)
            if upload is not None and upload.ref == ref:
                return upload
        upload_id = secrets.token_urlsafe(16)
        self._part(upload_id).touch(exist_ok=False)
        record = {"sha256": ref.hex, "size": ref.size}
        self._meta(upload_id).write_text(json.dumps(record), encoding="utf-8")
        return Upload(upload_id, ref, 0)

    def upload(self, upload_id: str) -> Upload:
        if not _ID.fullmatch(upload_id):
            raise NotFoundError(f"no upload {upload_id[:40]!r}")
        found = self._read(upload_id)
        if found is None:
            raise NotFoundError(f"no upload {upload_id!r} (finished, abandoned or unknown)")
        return found

    def cancel(self, upload_id: str) -> None:
        self.upload(upload_id)
        self._part(upload_id).unlink(missing_ok=True)
        self._meta(upload_id).unlink(missing_ok=True)

    def open_part(self, upload_id: str) -> Any:
        """The ``.part`` file, opened for writing at its end."""
        return self._part(upload_id).open("r+b")

    def finish(self, upload_id: str) -> BlobRef:
        """Check the complete upload's SHA-256 and store it; on a mismatch discard it."""
        upload = self.upload(upload_id)
        part = self._part(upload_id)
        digest = hashlib.sha256()
        size = 0
        with part.open("rb") as f:
            while chunk := f.read(_READ):
                digest.update(chunk)
                size += len(chunk)
        if digest.digest() != upload.ref.sha256 or size != upload.ref.size:
            part.unlink(missing_ok=True)
            self._meta(upload_id).unlink(missing_ok=True)
            raise VerificationError(
                f"the uploaded bytes do not match: expected SHA-256 {upload.ref.hex} and "
                f"{upload.ref.size} bytes, received {digest.hexdigest()} and {size} bytes; "
                "nothing was stored"
            )
        if not _is_age(part):
            part.unlink(missing_ok=True)
            self._meta(upload_id).unlink(missing_ok=True)
            raise VerificationError(
                "the upload is not age v1 ciphertext (it does not start with "
                f"{AGE_HEADER!r}): the hub stores only encrypted blobs; nothing was stored"
            )
        final = self.path(upload.ref.sha256)
        final.parent.mkdir(exist_ok=True)
        os.replace(part, final)
        self._meta(upload_id).unlink(missing_ok=True)
        return upload.ref

    def prune(self, now: float, stale_after: float = _STALE_AFTER) -> None:
        """Remove unfinished uploads untouched for ``stale_after`` seconds."""
        for meta in self._uploads.glob("*.json"):
            part = self._part(meta.stem)
            try:
                touched = max(meta.stat().st_mtime, part.stat().st_mtime)
            except FileNotFoundError:
                touched = 0.0
            if now - touched > stale_after:
                part.unlink(missing_ok=True)
                meta.unlink(missing_ok=True)

    def _part(self, upload_id: str) -> Path:
        return self._uploads / f"{upload_id}.part"

    def _meta(self, upload_id: str) -> Path:
        return self._uploads / f"{upload_id}.json"

    def _read(self, upload_id: str) -> Upload | None:
        try:
            raw = json.loads(self._meta(upload_id).read_text(encoding="utf-8"))
            offset = self._part(upload_id).stat().st_size
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise StorageError(f"upload {upload_id} has unreadable metadata: {exc}") from exc
        return Upload(upload_id, BlobRef(parse_sha256(raw["sha256"]), raw["size"]), offset)


def _is_age(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(AGE_HEADER)) == AGE_HEADER


class _NewUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: Annotated[str, Field(min_length=64, max_length=64, description="hex ciphertext hash")]
    size: Annotated[int, Field(ge=1, description="ciphertext bytes")]


def _content_range(header: str | None, size: int) -> tuple[int, int]:
    """``(start, end)`` (end exclusive) of ``Content-Range: bytes a-b/size``."""
    if header is None:
        raise MalformedError("a chunk needs a Content-Range: bytes a-b/size header")
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise MalformedError(f"Content-Range must be 'bytes a-b/size', not {header[:80]!r}")
    first, last, total = (int(g) for g in match.groups())
    if total != size:
        raise MalformedError(f"Content-Range says the blob has {total} bytes, the upload {size}")
    if not first <= last < size:
        raise MalformedError(f"bad Content-Range {first}-{last} for a blob of {size} bytes")
    return first, last + 1


def _offset_headers(upload: Upload) -> dict[str, str]:
    return {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.ref.size)}


def create_blob_router(
    directory: Path,
    authorize: Callable[[Request], object],
    *,
    max_size: int = DEFAULT_MAX_BLOB_SIZE,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The blob endpoints, storing under ``directory/blobs``; ``authorize`` raises for
    anyone but a member (the hub passes its bearer-token check)."""
    store = BlobStore(directory / "blobs", max_size)
    locks: dict[str, asyncio.Lock] = {}

    def member(request: Request) -> None:
        authorize(request)

    router = APIRouter(prefix="/v1/blobs", tags=["blobs"], dependencies=[Depends(member)])

    @router.post("/uploads", summary="Start (or resume) the upload of a ciphertext blob")
    def start(body: _NewUpload) -> Response:
        ref = BlobRef(parse_sha256(body.sha256), body.size)
        existing = store.stored(ref.sha256)
        if existing is not None:
            if existing.size != ref.size:
                raise ConflictError(
                    f"blob {ref.hex} is stored with {existing.size} bytes, not {ref.size}"
                )
            return JSONResponse({**ref.to_json(), "complete": True})
        upload = store.start(ref, clock())
        return JSONResponse(
            upload.to_json(),
            status_code=201 if upload.offset == 0 else 200,
            headers={"Location": f"/v1/blobs/uploads/{upload.id}", **_offset_headers(upload)},
        )

    @router.get("/uploads/{upload_id}", summary="An unfinished upload and its committed offset")
    def status(upload_id: str) -> Response:
        upload = store.upload(upload_id)
        return JSONResponse(upload.to_json(), headers=_offset_headers(upload))

    @router.head("/uploads/{upload_id}", summary="The committed offset, as Upload-Offset")
    def status_head(upload_id: str) -> Response:
        return Response(headers=_offset_headers(store.upload(upload_id)))

    @router.delete("/uploads/{upload_id}", summary="Abandon an upload", status_code=204)
    def cancel(upload_id: str) -> Response:
        store.cancel(upload_id)
        return Response(status_code=204)

    @router.put(
        "/uploads/{upload_id}",
        summary="Append one chunk (Content-Range: bytes a-b/size) at the committed offset",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {BLOB_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def put_chunk(upload_id: str, request: Request) -> Response:
        upload = store.upload(upload_id)
        start, end = _content_range(request.headers.get("content-range"), upload.ref.size)
        length = request.headers.get("content-length")
        if length is not None and length != str(end - start):
            raise MalformedError(f"Content-Length {length} but Content-Range has {end - start}")
        lock = locks.setdefault(upload_id, asyncio.Lock())
        if lock.locked():
            raise ConflictError(f"another chunk of upload {upload_id} is being written")
        async with lock:
            upload = store.upload(upload_id)
            if start != upload.offset:
                return problem_response(
                    409,
                    "Conflict",
                    f"the chunk starts at {start}, the upload's committed offset is "
                    f"{upload.offset}",
                    _offset_headers(upload),
                )
            complete = await _append(store, upload, request, end)
            if not complete:
                upload = store.upload(upload_id)
                return JSONResponse(upload.to_json(), 202, headers=_offset_headers(upload))
            try:
                ref = await run_in_threadpool(store.finish, upload_id)
            finally:
                locks.pop(upload_id, None)
        return JSONResponse(
            {**ref.to_json(), "complete": True},
            201,
            headers={"Location": f"/v1/blobs/{ref.hex}"},
        )

    @router.get(
        "/{sha256}",
        summary="A blob's ciphertext, streamed; Range requests answer 206",
        response_class=FileResponse,
    )
    def download(sha256: str) -> Response:
        return _blob_file(sha256)

    @router.head("/{sha256}", summary="A blob's size and ETag, without its bytes")
    def head(sha256: str) -> Response:
        return _blob_file(sha256)

    def _blob_file(sha256: str) -> Response:
        digest = parse_sha256(sha256)
        if store.stored(digest) is None:
            raise NotFoundError(f"no blob {sha256}")
        return FileResponse(
            store.path(digest),
            media_type=BLOB_MEDIA_TYPE,
            headers={"ETag": f'"{sha256}"', "Cache-Control": "private, immutable"},
        )

    return router


async def _append(store: BlobStore, upload: Upload, request: Request, end: int) -> bool:
    """Write the request body at the upload's offset; True when the blob is complete.

    A body longer or shorter than its range is refused and its bytes dropped; bytes that
    arrived before the client disconnected are kept (the next chunk resumes after them).
    """
    start = upload.offset
    written = start
    try:
        with store.open_part(upload.id) as part:
            part.seek(start)
            try:
                async for chunk in request.stream():
                    if written + len(chunk) > end:
                        part.truncate(start)
                        raise MalformedError(f"the body is longer than its range {start}-{end - 1}")
                    part.write(chunk)
                    written += len(chunk)
            except ClientDisconnect:
                part.truncate(written)
                return False
            if written != end:
                part.truncate(start)
                raise MalformedError(
                    f"the body has {written - start} bytes, its range {end - start}"
                )
            part.truncate(written)
    except OSError as exc:
        raise StorageError(f"cannot write upload {upload.id}: {exc.strerror or exc}") from exc
    return end == upload.ref.size

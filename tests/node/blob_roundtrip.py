"""Round-trip a generated blob of N MiB through a blob hub in THIS process; print peak RSS.

Run as ``python tests/node/blob_roundtrip.py MIB DIR``. The hub (uvicorn in a thread) and
the client (encrypt, upload, download, verify, decrypt) share the process, so the peak
resident set size (``VmHWM``) bounds both. The plaintext is a sparse file of zeros, so the
disk holds only ciphertext; the decrypted output is checked by hashing it in a stream.
Prints one JSON object.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import httpx

from detente.crypto.age import Identity
from detente.node.blobs import BlobClient, open_blob, seal_file
from hub.blobhub import TOKEN, running_blob_hub


def _peak() -> float:
    """This program's peak resident set size so far, in MiB.

    Read from ``VmHWM`` in /proc/self/status: the high-water mark of this process's own
    memory since it was exec'd. ``ru_maxrss`` is no good here: Linux folds the parent's peak
    into it across fork and exec, so a child of a large pytest process would report the
    parent's memory, not its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def main(mib: int, root: Path) -> dict[str, float]:
    size = mib * 1024 * 1024
    identity = Identity.generate()
    plain = root / "plain.bin"
    with plain.open("wb") as f:
        f.truncate(size)  # sparse: zeros that take no disk
    times: dict[str, float] = {"mib": mib}
    with (
        running_blob_hub(root / "hub", max_size=size * 2) as hub,
        httpx.Client(timeout=120) as http,
    ):
        client = BlobClient(http, hub.url, lambda: TOKEN)
        t = time.perf_counter()
        sealed = seal_file(plain, root / "sealed.age", [identity.recipient])
        times["encrypt_s"] = time.perf_counter() - t
        times["rss_after_encrypt_mib"] = _peak()
        t = time.perf_counter()
        client.upload(root / "sealed.age", sealed.ref)
        times["upload_s"] = time.perf_counter() - t
        times["rss_after_upload_mib"] = _peak()
        (root / "sealed.age").unlink()
        t = time.perf_counter()
        client.download(sealed.ref, root / "fetched.age")
        times["download_s"] = time.perf_counter() - t
        times["rss_after_download_mib"] = _peak()
        for stored in hub.stored():
            stored.unlink()
    t = time.perf_counter()
    open_blob(root / "fetched.age", root / "opened.bin", [identity])
    times["decrypt_s"] = time.perf_counter() - t
    (root / "fetched.age").unlink()
    digest = hashlib.sha256()
    with (root / "opened.bin").open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    if digest.digest() != sealed.plaintext_sha256 or sealed.plaintext_size != size:
        raise SystemExit("the round trip changed the plaintext")
    (root / "opened.bin").unlink()
    times["peak_rss_mib"] = _peak()
    return times


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), Path(sys.argv[2]))))

"""Benchmark of evidence blobs: age encryption and upload throughput for a 1 GiB blob.

Prints, in one run, for the same file of random bytes (``--mib``, default 1024):

- baseline: raw file copy (``shutil.copyfile``) of the file;
- baseline: raw ChaCha20-Poly1305 (cryptography's AEAD) over the file in 64 KiB pieces
  (age's STREAM chunk size), read from and written to disk like age;
- age encryption as a node does it (``seal_file``: pyrage, hashing plaintext and ciphertext);
- upload of the ciphertext to a blob hub on loopback (uvicorn, 8 MiB chunks, the hub checks
  SHA-256 at the end), then download with hash check, then age decryption;
- the process's peak RSS (hub and client share the process).

Each throughput is also given as a ratio of the raw copy and of raw ChaCha20-Poly1305.

    python bench/blob_bench.py [--mib N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from detente.crypto.age import Identity
from detente.node.blobs import BlobClient, open_blob, seal_file
from hub.blobhub import TOKEN, running_blob_hub

_PIECE = 64 * 1024


def _random_file(path: Path, size: int) -> None:
    block = os.urandom(8 * 1024 * 1024)
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def _chacha(source: Path, dest: Path) -> None:
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    counter = 0
    with source.open("rb") as i, dest.open("wb") as o:
        while piece := i.read(_PIECE):
            o.write(aead.encrypt(counter.to_bytes(12, "big"), piece, None))
            counter += 1


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    console = Console()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        root = Path(scratch)
        plain = root / "plain.bin"
        _random_file(plain, size)
        identity = Identity.generate()
        seconds: dict[str, float] = {}
        seconds["raw file copy (baseline)"] = _timed(
            lambda: shutil.copyfile(plain, root / "copy.bin")
        )
        (root / "copy.bin").unlink()
        seconds["raw ChaCha20-Poly1305 (baseline)"] = _timed(
            lambda: _chacha(plain, root / "chacha.bin")
        )
        (root / "chacha.bin").unlink()
        sealed_path = root / "sealed.age"
        start = time.perf_counter()
        sealed = seal_file(plain, sealed_path, [identity.recipient])
        seconds["age encryption (seal_file)"] = time.perf_counter() - start
        with (
            running_blob_hub(root / "hub", max_size=2 * size) as hub,
            httpx.Client(timeout=120.0) as http,
        ):
            client = BlobClient(http, hub.url, lambda: TOKEN)
            seconds["upload to hub (loopback)"] = _timed(
                lambda: client.upload(sealed_path, sealed.ref)
            )
            sealed_path.unlink()
            seconds["download + SHA-256 check"] = _timed(
                lambda: client.download(sealed.ref, root / "fetched.age")
            )
        seconds["age decryption (open_blob)"] = _timed(
            lambda: open_blob(root / "fetched.age", root / "opened.bin", [identity])
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    copy = seconds["raw file copy (baseline)"]
    chacha = seconds["raw ChaCha20-Poly1305 (baseline)"]
    table = Table(title=f"Evidence blobs, {args.mib} MiB of random bytes")
    for column in ("step", "seconds", "MiB/s", "x copy", "x ChaCha20"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step, took in seconds.items():
        table.add_row(
            step,
            f"{took:.2f}",
            f"{args.mib / took:,.0f}",
            f"{copy / took:.2f}",
            f"{chacha / took:.2f}",
        )
    console.print(table)
    console.print(f"peak RSS of the process (hub and client together): {peak:.0f} MiB")


if __name__ == "__main__":
    main()

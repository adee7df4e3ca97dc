"""The benches' baseline: the Ed25519 verification rate of one core (cryptography).

``fresh_verify_rate`` measures it in a new interpreter. Measured inside a bench's own
process, after that process has served a hub for a while, the same loop reads up to 40%
lower (its heap and its idle threads slow the interpreter), which would flatter every ratio
taken against it; the machine's limit is what a clean process reaches.

    python bench/baseline.py [SECONDS]
"""

from __future__ import annotations

import subprocess
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def verify_rate(seconds: float = 2.0) -> float:
    """Verifications per second of one 400-byte message, in this process."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    public = key.public_key()
    message = b"x" * 400
    signature = key.sign(message)
    done = 0
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        for _ in range(500):
            public.verify(signature, message)
        done += 500
    return done / (time.perf_counter() - begin)


def fresh_verify_rate(seconds: float = 1.0) -> float:
    """``verify_rate`` measured in a new interpreter (this file run as a script)."""
    out = subprocess.run(
        [sys.executable, __file__, str(seconds)], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


if __name__ == "__main__":
    print(verify_rate(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0))

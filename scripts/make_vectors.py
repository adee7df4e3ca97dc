"""Write Detente's own RFC 9162 proof vectors to tests/tlog/vectors/.

Usage: ``.venv/bin/python scripts/make_vectors.py [output-dir]``

The vectors have the JSON shape of transparency-dev/merkle's testdata (base64 hashes):
inclusion ``{leafIdx, treeSize, root, leafHash, proof, desc, wantErr}`` and consistency
``{size1, size2, root1, root2, proof, desc, wantErr}``, one file per tampering, named for it,
under ``<kind>/<case>/<mutation>.json``.

Everything here comes from the naive reference in tests/tlog/naive.py, never from
``detente.tlog``: proofs from the recursive PATH and PROOF of RFC 9162 2.1.3.1 and 2.1.4.1,
and ``wantErr`` from the literal verification loops of 2.1.3.2 and 2.1.4.2 (with hashes
required to be exactly 32 bytes, and consistency from size 0 rejected). A mutation that
keeps the proof shape (for example ``treeSize-plus-1`` when the size stays within the same
right border) may still verify, and its file says so: a proof binds the size only through
the root. The output is deterministic; the script deletes its old output first.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tlog"))

import naive  # noqa: E402  (the reference lives with the tests)

DEFAULT_OUT = ROOT / "tests" / "tlog" / "vectors"

LEAVES = [naive.leaf(b"detente vector leaf %d" % i) for i in range(1024)]
GARBAGE = naive.leaf(b"garbage")
WRONG = naive.leaf(b"wrong")

INCLUSION_CASES = [
    (0, 1), (0, 2), (1, 2), (2, 3), (0, 8), (5, 8), (6, 7), (4, 5),
    (12, 13), (255, 256), (100, 257), (513, 1000),
]  # fmt: skip
CONSISTENCY_CASES = [
    (1, 2), (1, 8), (2, 5), (3, 7), (4, 8), (6, 8), (6, 7), (7, 8),
    (13, 21), (64, 100), (255, 257), (500, 1000),
]  # fmt: skip

Vector = dict[str, Any]


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x01]) + h[1:]


def inclusion_vector(idx: int, size: int, root: bytes, leaf: bytes, proof: list[bytes]) -> Vector:
    return {
        "leafIdx": idx,
        "treeSize": size,
        "root": b64(root),
        "leafHash": b64(leaf),
        "proof": [b64(p) for p in proof],
    }


def consistency_vector(s1: int, s2: int, r1: bytes, r2: bytes, proof: list[bytes]) -> Vector:
    return {
        "size1": s1,
        "size2": s2,
        "root1": b64(r1),
        "root2": b64(r2),
        "proof": [b64(p) for p in proof],
    }


def proof_mutations(proof: list[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """Tamperings of the proof list shared by both kinds."""
    for i in range(len(proof)):
        if len(proof) <= 4 or i in (0, len(proof) // 2, len(proof) - 1):
            yield f"modified-proof[{i}]-bit", [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
    if proof:
        yield "truncated-proof", proof[:-1]
        yield "empty-proof", []
        yield "short-proof-hash", [proof[0][:31], *proof[1:]]
    yield "trailing-garbage", [*proof, GARBAGE]
    yield "preceding-garbage", [GARBAGE, *proof]


def inclusion_files() -> Iterator[tuple[str, Vector]]:
    for idx, size in INCLUSION_CASES:
        leaves = LEAVES[:size]
        root, leaf, proof = naive.mth(leaves), leaves[idx], naive.path(idx, leaves)
        case = f"index-{idx}-size-{size}"
        variants = {
            "happy-path": (idx, size, root, leaf),
            "wrong-root": (idx, size, WRONG, leaf),
            "wrong-leaf": (idx, size, root, WRONG),
            "swapped-root-and-leaf": (idx, size, leaf, root),
            "short-root": (idx, size, root[:12], leaf),
            "leafIdx-plus-1": (idx + 1, size, root, leaf),
            "leafIdx-minus-1": (idx - 1, size, root, leaf),
            "treeSize-plus-1": (idx, size + 1, root, leaf),
            "treeSize-minus-1": (idx, size - 1, root, leaf),
        }
        for name, (i, s, r, h) in variants.items():
            yield f"inclusion/{case}/{name}.json", inclusion_vector(i, s, r, h, proof)
        for name, bad in proof_mutations(proof):
            yield f"inclusion/{case}/{name}.json", inclusion_vector(idx, size, root, leaf, bad)


def consistency_files() -> Iterator[tuple[str, Vector]]:
    for s1, s2 in CONSISTENCY_CASES:
        r1, r2 = naive.mth(LEAVES[:s1]), naive.mth(LEAVES[:s2])
        proof = naive.proof(s1, LEAVES[:s2])
        case = f"size-{s1}-to-{s2}"
        variants = {
            "happy-path": (s1, s2, r1, r2, proof),
            "swapped-roots": (s1, s2, r2, r1, proof),
            "wrong-root1": (s1, s2, WRONG, r2, proof),
            "wrong-root2": (s1, s2, r1, WRONG, proof),
            "short-root2": (s1, s2, r1, r2[:12], proof),
            "size1-plus-1": (s1 + 1, s2, r1, r2, proof),
            "size1-minus-1": (s1 - 1, s2, r1, r2, proof),
            "size2-plus-1": (s1, s2 + 1, r1, r2, proof),
            "size2-minus-1": (s1, s2 - 1, r1, r2, proof),
            "preceding-root1": (s1, s2, r1, r2, [r1, *proof]),
            "trailing-root2": (s1, s2, r1, r2, [*proof, r2]),
        }
        for name, (a, b, x, y, p) in variants.items():
            yield f"consistency/{case}/{name}.json", consistency_vector(a, b, x, y, p)
        for name, bad in proof_mutations(proof):
            yield f"consistency/{case}/{name}.json", consistency_vector(s1, s2, r1, r2, bad)
    # Edge cases of the sizes themselves.
    r1, r2, r3 = naive.mth(LEAVES[:1]), naive.mth(LEAVES[:2]), naive.mth(LEAVES[:3])
    extra = {
        "sizes-equal-empty-proof": (2, 2, r2, r2, []),
        "sizes-equal-roots-differ": (2, 2, r2, r3, []),
        "sizes-equal-proof-not-empty": (2, 2, r2, r2, [r1]),
        "sizes-equal-short-roots": (1, 1, b"short root 1", b"short root 1", []),
        "size1-zero-empty-proof": (0, 3, naive.EMPTY, r3, []),
        "sizes-zero-empty-proof": (0, 0, naive.EMPTY, naive.EMPTY, []),
        "size1-greater-than-size2": (3, 2, r3, r2, []),
    }
    for name, (a, b, x, y, p) in extra.items():
        yield f"consistency/additional/{name}.json", consistency_vector(a, b, x, y, p)


def inclusion_extra() -> Iterator[tuple[str, Vector]]:
    r1 = naive.mth(LEAVES[:1])
    extra = {
        "size-zero": (0, 0, naive.EMPTY, LEAVES[0], []),
        "index-equals-size": (3, 3, naive.mth(LEAVES[:3]), LEAVES[3], []),
        "single-leaf": (0, 1, r1, LEAVES[0], []),
        "single-leaf-short-leaf-hash": (0, 1, r1, LEAVES[0][:12], []),
        "single-leaf-proof-not-empty": (0, 1, r1, LEAVES[0], [LEAVES[1]]),
    }
    for name, (i, s, r, leaf, p) in extra.items():
        yield f"inclusion/additional/{name}.json", inclusion_vector(i, s, r, leaf, p)


def judge(vector: Vector) -> bool:
    """wantErr, decided by the naive RFC 9162 verifiers."""
    proof = [base64.b64decode(p) for p in vector["proof"]]
    if "leafIdx" in vector:
        if vector["leafIdx"] < 0 or vector["treeSize"] < 0:
            return True
        ok = naive.verify_inclusion(
            vector["leafIdx"],
            vector["treeSize"],
            base64.b64decode(vector["leafHash"]),
            proof,
            base64.b64decode(vector["root"]),
        )
    else:
        if vector["size1"] < 0 or vector["size2"] < 0:
            return True
        ok = naive.verify_consistency(
            vector["size1"],
            vector["size2"],
            proof,
            base64.b64decode(vector["root1"]),
            base64.b64decode(vector["root2"]),
        )
    return not ok


def generate() -> dict[str, Vector]:
    out: dict[str, Vector] = {}
    for rel, vector in [*inclusion_files(), *inclusion_extra(), *consistency_files()]:
        if any(vector.get(k, 0) < 0 for k in ("leafIdx", "treeSize", "size1", "size2")):
            continue  # not representable as uint64; such mutations are tested in unit tests
        name = rel.rsplit("/", 1)[1].removesuffix(".json")
        want_err = judge(vector)
        desc = name.replace("-", " ")
        if name != "happy-path" and not want_err:
            desc += " (still verifies: the proof has the same shape, only the root binds sizes)"
        out[rel] = {**vector, "desc": desc, "wantErr": want_err}
    happy = [v for k, v in out.items() if k.endswith("/happy-path.json")]
    if any(v["wantErr"] for v in happy):
        raise SystemExit("naive reference rejects a happy path: the reference is broken")
    return out


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for kind in ("inclusion", "consistency"):
        shutil.rmtree(out_dir / kind, ignore_errors=True)
    vectors = generate()
    for rel, vector in sorted(vectors.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(vector, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {out_dir}")


if __name__ == "__main__":
    main()

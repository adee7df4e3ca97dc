"""Evidence blobs through the real hub of the demo: Blueland seals a file to Redland, the hub
holds only ciphertext, Redland fetches and opens it, an outsider's request is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from detente.crypto.age import IDENTITY_FILE, load_identity
from detente.demo import start_demo
from detente.errors import DetenteError, VerificationError
from detente.node.blobs import BlobClient, hub_login, open_blob, seal_file

CANARY = b"CANARY-7f3e blueland evidence: intrusion timeline\n" * 1000


def test_a_sealed_blob_goes_through_the_real_hub(tmp_path: Path) -> None:
    with start_demo(tmp_path / "demo") as demo, httpx.Client(timeout=30) as http:
        blue, red = demo.nodes["blueland"], demo.nodes["redland"]
        state = blue.state()
        recipients = [
            load_identity(demo.root / "blueland" / IDENTITY_FILE).recipient,
            load_identity(demo.root / "redland" / IDENTITY_FILE).recipient,
        ]
        assert {str(r) for r in recipients} == {
            state.parties[p].encryption_keys[-1].recipient for p in ("blueland", "redland")
        }
        plain = tmp_path / "evidence.txt"
        plain.write_bytes(CANARY)
        sealed = seal_file(plain, tmp_path / "evidence.age", recipients, media_type="text/plain")

        def token(node_party: str) -> str:
            key = demo.nodes[node_party].directory.private_key()
            return hub_login(http, demo.hub_url, node_party, key.sign)

        uploader = BlobClient(http, demo.hub_url, lambda: token("blueland"))
        assert uploader.upload(tmp_path / "evidence.age", sealed.ref) == sealed.ref
        digest = sealed.ref.sha256.hex()
        stored = demo.root / "hub" / "blobs" / digest[:2] / digest[2:]
        assert stored.read_bytes() == (tmp_path / "evidence.age").read_bytes()
        everything = b"".join(p.read_bytes() for p in (demo.root / "hub").rglob("*") if p.is_file())
        assert b"CANARY-7f3e" not in everything

        fetcher = BlobClient(http, demo.hub_url, lambda: token("redland"))
        fetcher.download(sealed.ref, tmp_path / "fetched.age")
        red_identity = load_identity(demo.root / "redland" / IDENTITY_FILE)
        open_blob(tmp_path / "fetched.age", tmp_path / "opened.txt", [red_identity])
        assert (tmp_path / "opened.txt").read_bytes() == CANARY

        # Not a recipient: the file does not open.
        outsider = load_identity(demo.root / "blueland" / IDENTITY_FILE)
        other = seal_file(plain, tmp_path / "only-red.age", [red_identity.recipient])
        with pytest.raises(VerificationError):
            open_blob(tmp_path / "only-red.age", tmp_path / "nope.txt", [outsider])
        assert other.ref.sha256 != sealed.ref.sha256
        # No member token: the hub refuses to serve the blob.
        anonymous = http.get(f"{demo.hub_url}/v1/blobs/{sealed.ref.sha256.hex()}")
        assert anonymous.status_code == 401
        assert red.state().digest() == blue.state().digest()
        with pytest.raises(DetenteError):
            BlobClient(http, demo.hub_url, lambda: "not-a-token", retries=0).download(
                sealed.ref, tmp_path / "refused.age"
            )

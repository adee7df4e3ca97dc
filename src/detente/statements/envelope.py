"""DSSE v1 envelopes: the signed wrapper around every Detente statement.

One log entry is the canonical JSON encoding of one envelope (``Envelope.to_bytes()``)::

    {"payload":"<b64>","payloadType":"application/vnd.detente.statement.v1+json",
     "signatures":[{"keyid":"<16 hex>","sig":"<b64>"},...]}

Signatures are Ed25519 over the DSSE pre-authentication encoding (``pae``) of the payload type
and the payload bytes. There is exactly one byte string per envelope: keys sorted, no
whitespace, raw UTF-8, standard padded base64, and the signatures sorted by ``keyid`` (so a
relay cannot re-order them to make a second entry out of the same signed statement).
``Envelope.from_bytes`` refuses anything else with ``MalformedError``; a forged or missing
signature is a ``SignatureError`` from ``verify_signature``, never a parse error.

``preverify`` checks signatures ahead of time, in threads (``cryptography`` releases the GIL
while it verifies), and remembers each one that verified in a bounded, thread-safe memo keyed
by the public key, the keyid, the signature bytes and the SHA-256 of the whole signed message
(``pae``). ``verify_signature`` answers from that memo when the very same key, signature and
message verified before, so a hit is exactly as strong as verifying again; a failure is never
remembered, and ``verify_signature`` remembers nothing itself.

``Envelope.from_bytes`` keeps the last few thousand envelopes it read through the canonical
fast path, by their exact bytes (an envelope is immutable and a function of its bytes): an
entry parsed to pre-verify it is not parsed again to apply it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from detente.errors import DetenteError, MalformedError, SignatureError, TooLargeError
from detente.statements._canonical import check_fields, load_json

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_SIGNATURES",
    "PAYLOAD_TYPE",
    "Envelope",
    "Signature",
    "Verified",
    "key_id",
    "pae",
    "preverify",
    "preverify_entries",
    "remember_verified",
    "sign_envelope",
    "split_canonical_array",
    "verified_signatures",
    "verify_signature",
]

PAYLOAD_TYPE = "application/vnd.detente.statement.v1+json"
#: The largest log entry, in bytes (the tlog tile format stores entry sizes in 16 bits).
MAX_ENTRY_SIZE = 65_535
#: At most this many signatures per envelope (a genesis with many founders fits well below).
MAX_SIGNATURES = 8

_KEYID = re.compile(r"[0-9a-f]{16}")
_ENVELOPE_FIELDS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_FIELDS = frozenset({"keyid", "sig"})
_SIG_SIZE = 64
_KEY_SIZE = 32
#: Successful pre-verifications remembered (the oldest is forgotten first): two hub batches of
#: the largest size (1,024), with room to spare; about 300 bytes each.
_MEMO_SIZE = 8192
#: Envelopes parsed lately, by their exact bytes: an entry is parsed once to pre-verify it and
#: again to apply it (hub batches of 1,024 at most; node bundles of 256).
_PARSED_SIZE = 4096
#: Pairs per task when ``preverify`` spreads the work over an executor.
_PREVERIFY_CHUNK = 32
# The canonical layout, for the fast path of ``Envelope.from_bytes``: an entry that matches it
# is read from it directly (base64 checked canonical as well); any other goes through the
# strict parser, which says what is wrong.
_SIGNATURE_LAYOUT = rb'\{"keyid":"[0-9a-f]{16}","sig":"[A-Za-z0-9+/]{86}=="\}'
_CANONICAL = re.compile(
    rb'\{"payload":"([A-Za-z0-9+/]*={0,2})","payloadType":"'
    + re.escape(PAYLOAD_TYPE.encode())
    + rb'","signatures":\[('
    + _SIGNATURE_LAYOUT
    + rb"(?:,"
    + _SIGNATURE_LAYOUT
    + rb"){0,%d})\]\}" % (MAX_SIGNATURES - 1)
)
_CANONICAL_SIGNATURE = re.compile(rb'\{"keyid":"([0-9a-f]{16})","sig":"([A-Za-z0-9+/]{86}==)"\}')


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding: what is actually signed.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, LEN the ASCII decimal byte length.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public_key: bytes) -> str:
    """The keyid of a raw Ed25519 public key: hex of the first 8 bytes of its SHA-256."""
    if len(public_key) != _KEY_SIZE:
        raise MalformedError(f"an Ed25519 public key is {_KEY_SIZE} bytes, not {len(public_key)}")
    return hashlib.sha256(public_key).digest()[:8].hex()


@dataclass(frozen=True, slots=True)
class Signature:
    """One DSSE signature: the signer's keyid and a 64-byte Ed25519 signature."""

    keyid: str
    sig: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.keyid, str) or not _KEYID.fullmatch(self.keyid):
            raise MalformedError(f"keyid must be 16 lowercase hex digits, not {self.keyid!r}")
        if not isinstance(self.sig, bytes) or len(self.sig) != _SIG_SIZE:
            size = len(self.sig) if isinstance(self.sig, bytes) else "?"
            raise MalformedError(f"an Ed25519 signature is {_SIG_SIZE} bytes, not {size}")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope carrying one Detente statement, signed by 1 to 8 keys."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        if self.payload_type != PAYLOAD_TYPE:
            raise MalformedError(f"payloadType must be {PAYLOAD_TYPE!r}, not {self.payload_type!r}")
        if not isinstance(self.payload, bytes):
            raise MalformedError("the payload must be bytes")
        if not isinstance(self.signatures, tuple) or not all(
            isinstance(s, Signature) for s in self.signatures
        ):
            raise MalformedError("signatures must be a tuple of Signature")
        count = len(self.signatures)
        # An unsigned envelope claims nothing; refuse it rather than let a caller forget.
        if count == 0:
            raise MalformedError("an envelope needs at least one signature, it has 0")
        if count > MAX_SIGNATURES:
            raise MalformedError(
                f"an envelope has at most {MAX_SIGNATURES} signatures, not {count}"
            )
        for before, after in zip(self.signatures, self.signatures[1:], strict=False):
            if before.keyid >= after.keyid:
                raise MalformedError(
                    "signatures must be sorted by keyid without repeats: "
                    f"{before.keyid} then {after.keyid}"
                )

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse the one canonical wire form; anything else is a ``MalformedError``."""
        if len(data) > MAX_ENTRY_SIZE:
            raise TooLargeError(f"an entry is at most {MAX_ENTRY_SIZE} bytes, not {len(data)}")
        if type(data) is bytes:
            envelope = _PARSED.get(data) if cls is Envelope else None
            if envelope is not None:
                return envelope
            envelope = cls._from_canonical(data)
            if envelope is not None:
                if cls is Envelope:
                    _remember_parsed(data, envelope)
                return envelope
        text, obj = load_json(data, "envelope")
        if not isinstance(obj, dict):
            raise MalformedError("an envelope must be a JSON object")
        check_fields(obj, _ENVELOPE_FIELDS, _ENVELOPE_FIELDS, "envelope")
        payload_b64, payload_type, raw_sigs = obj["payload"], obj["payloadType"], obj["signatures"]
        if not isinstance(payload_type, str):
            raise MalformedError("envelope field 'payloadType' must be a string")
        if payload_type != PAYLOAD_TYPE:
            raise MalformedError(f"payloadType must be {PAYLOAD_TYPE!r}, not {payload_type!r}")
        payload = _b64decode(payload_b64, "envelope field 'payload'")
        if not isinstance(raw_sigs, list):
            raise MalformedError("envelope field 'signatures' must be a list")
        if not 1 <= len(raw_sigs) <= MAX_SIGNATURES:
            raise MalformedError(
                f"an envelope has 1 to {MAX_SIGNATURES} signatures, not {len(raw_sigs)}"
            )
        signatures = []
        for number, raw in enumerate(raw_sigs):
            where = f"signatures[{number}]"
            if not isinstance(raw, dict):
                raise MalformedError(f"{where} must be a JSON object")
            check_fields(raw, _SIGNATURE_FIELDS, _SIGNATURE_FIELDS, where)
            if not isinstance(raw["keyid"], str):
                raise MalformedError(f"{where}.keyid must be a string")
            signatures.append(Signature(raw["keyid"], _b64decode(raw["sig"], f"{where}.sig")))
        envelope = cls(payload_type, payload, tuple(signatures))
        # Everything above held, so the only way left to differ is the byte layout.
        if envelope._text() != text:
            raise MalformedError(
                "the envelope is not in canonical JSON form "
                "(sorted keys, no whitespace, raw UTF-8, minimal escapes)"
            )
        return envelope

    @classmethod
    def _from_canonical(cls, data: bytes) -> Envelope | None:
        """The envelope of ``data`` if it is in the canonical layout, else None."""
        match = _CANONICAL.fullmatch(data)
        if match is None:
            return None
        payload = _b64decode_canonical(match[1])
        if payload is None:
            return None
        signatures = []
        for found in _CANONICAL_SIGNATURE.finditer(match[2]):
            sig = _b64decode_canonical(found[2])
            if sig is None:
                return None
            signatures.append(Signature(found[1].decode("ascii"), sig))
        try:
            return cls(PAYLOAD_TYPE, payload, tuple(signatures))
        except MalformedError:  # unsorted or repeated keyids: the strict parser says so
            return None

    def to_bytes(self) -> bytes:
        """The canonical wire form: exactly the bytes of one log entry."""
        return self._text().encode("ascii")

    def _text(self) -> str:
        # What dumps() writes for this object, spelled out: every value is ASCII that JSON
        # does not escape (base64, hex, the constant payload type), so no encoder is needed.
        signatures = ",".join(
            f'{{"keyid":"{s.keyid}","sig":"{_b64(s.sig)}"}}' for s in self.signatures
        )
        return (
            f'{{"payload":"{_b64(self.payload)}","payloadType":"{self.payload_type}",'
            f'"signatures":[{signatures}]}}'
        )


def split_canonical_array(data: bytes) -> list[bytes] | None:
    """The elements of ``data`` if it is a JSON array of envelopes in the canonical layout,
    written without whitespace (``[e1,e2,...]``, at least one); else None.

    Each element is returned as its exact bytes, which are what the canonical JSON encoder
    writes for it: a caller that would decode the array and re-encode every element gets
    the same list, without the work. Nothing is checked beyond the layout (the base64 is
    checked by ``Envelope.from_bytes``); None says only "take the general path".
    """
    if data[:1] != b"[" or data[-1:] != b"]":
        return None
    elements = []
    position, end = 1, len(data) - 1
    while True:
        match = _CANONICAL.match(data, position, end)
        if match is None:
            return None
        elements.append(match[0])
        position = match.end()
        if position == end:
            return elements
        if data[position : position + 1] != b",":
            return None
        position += 1


def sign_envelope(payload: bytes, keys: Sequence[Ed25519PrivateKey]) -> Envelope:
    """Sign ``payload`` with every key in ``keys`` (1 to 8 distinct keys)."""
    message = pae(PAYLOAD_TYPE, payload)
    signatures = []
    for key in keys:
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        signatures.append(Signature(key_id(raw), key.sign(message)))
    signatures.sort(key=lambda s: s.keyid)
    return Envelope(PAYLOAD_TYPE, payload, tuple(signatures))


def verify_signature(envelope: Envelope, public_key: bytes) -> None:
    """Return if the signature by ``public_key`` (raw 32 bytes) verifies, else raise.

    ``SignatureError`` if no signature carries the key's keyid, or if the one that does fails.
    Other signatures in the envelope are not looked at: which keys must sign is the caller's
    rule (the group state's). A signature ``preverify`` found valid for this key and this
    exact message is not verified a second time.
    """
    _verify(envelope, public_key, remember=False)


def preverify(
    envelopes_with_keys: Iterable[tuple[Envelope, bytes]], executor: Executor | None = None
) -> int:
    """Verify each envelope's signature by its key now, so ``verify_signature`` need not.

    Each success is remembered (a bounded memo, oldest forgotten first); a failure, or a key
    that is not an Ed25519 key, is skipped and not remembered, so the later
    ``verify_signature`` verifies it again and raises the proper error. With ``executor`` the
    work is spread over its threads in chunks (verification runs outside the GIL); without,
    it runs in the calling thread. Returns how many signatures verified.
    """
    pairs = list(envelopes_with_keys)
    if executor is None or len(pairs) <= _PREVERIFY_CHUNK:
        return _preverify_all(pairs)
    chunks = [pairs[i : i + _PREVERIFY_CHUNK] for i in range(0, len(pairs), _PREVERIFY_CHUNK)]
    return sum(executor.map(_preverify_all, chunks))


def preverify_entries(entries: Sequence[bytes], keys: Mapping[str, bytes]) -> int:
    """Pre-verify every signature in the log ``entries`` whose keyid is in ``keys`` and
    remember each success (``verified_signatures`` then ``remember_verified``, in this
    process). ``keys`` maps keyids to raw public keys (the speaking parties' current keys).
    An entry that does not parse is skipped: whoever applies it parses it again and refuses
    it. ``detente.statements.verifier`` spreads this over threads or worker processes.
    """
    return remember_verified(verified_signatures(entries, keys))


#: What a verification that succeeded is remembered by: the raw public key, its keyid, the
#: signature bytes and the SHA-256 of the whole signed message (``pae``).
Verified = tuple[bytes, str, bytes, bytes]


def verified_signatures(entries: Sequence[bytes], keys: Mapping[str, bytes]) -> list[Verified]:
    """Verify every signature in the log ``entries`` whose keyid is in ``keys`` and return
    what each one that verified is remembered by; remembers nothing itself.

    This is the work a process of its own can do for the one that applies the entries
    (``detente.statements.verifier``), which then hands the result to ``remember_verified``.
    An entry that does not parse, or a signature that fails, is left out.
    """
    found: list[Verified] = []
    for entry in entries:
        try:
            envelope = Envelope.from_bytes(entry)
        except DetenteError:
            continue
        for signature in envelope.signatures:
            public_key = keys.get(signature.keyid)
            if public_key is None:
                continue
            try:
                found.append(_check(envelope, signature, public_key))
            except (SignatureError, MalformedError):
                continue
    return found


def remember_verified(verified: Iterable[Verified]) -> int:
    """Remember verifications ``verified_signatures`` found, so ``verify_signature`` does not
    repeat them. Only for its results: the memo trusts what it is given."""
    count = 0
    for item in verified:
        _VERIFIED.add(item)
        count += 1
    return count


def _check(envelope: Envelope, signature: Signature, public_key: bytes) -> Verified:
    keyid, verifier = _load_key(public_key)
    if keyid != signature.keyid:
        raise SignatureError(f"key {keyid} did not make a signature labelled {signature.keyid}")
    message = pae(envelope.payload_type, envelope.payload)
    try:
        verifier.verify(signature.sig, message)
    except InvalidSignature as exc:
        raise SignatureError(f"the signature by key {keyid} does not verify") from exc
    return (bytes(public_key), keyid, signature.sig, hashlib.sha256(message).digest())


def _preverify_all(pairs: Sequence[tuple[Envelope, bytes]]) -> int:
    verified = 0
    for envelope, public_key in pairs:
        try:
            _verify(envelope, public_key, remember=True)
        except (SignatureError, MalformedError):
            continue
        verified += 1
    return verified


def _verify(envelope: Envelope, public_key: bytes, *, remember: bool) -> None:
    if envelope.payload_type != PAYLOAD_TYPE:  # an Envelope cannot be built otherwise
        raise MalformedError(f"payloadType must be {PAYLOAD_TYPE!r}")
    keyid, verifier = _load_key(public_key)
    for signature in envelope.signatures:
        if signature.keyid == keyid:
            message = pae(envelope.payload_type, envelope.payload)
            # Everything the verification depends on is in the key: the key itself (not
            # only its keyid), the signature bytes and a collision-resistant digest of the
            # whole message. Only successes are ever stored.
            memo_key = (bytes(public_key), keyid, signature.sig, hashlib.sha256(message).digest())
            if memo_key in _VERIFIED:
                return
            try:
                verifier.verify(signature.sig, message)
            except InvalidSignature as exc:
                raise SignatureError(f"the signature by key {keyid} does not verify") from exc
            if remember:
                _VERIFIED.add(memo_key)
            return
    found = ", ".join(s.keyid for s in envelope.signatures)
    raise SignatureError(f"no signature by key {keyid} (signed by {found})")


# Only what the canonical fast path accepted; an Envelope is immutable and is a function of
# its bytes, so returning the one parsed before is parsing again. OrderedDict's methods are
# atomic under the GIL: safe to share between threads.
_PARSED: OrderedDict[bytes, Envelope] = OrderedDict()


def _remember_parsed(data: bytes, envelope: Envelope) -> None:
    _PARSED[data] = envelope
    while len(_PARSED) > _PARSED_SIZE:
        try:
            _PARSED.popitem(last=False)
        except KeyError:  # emptied by another thread meanwhile
            break


_MemoKey = Verified


class _VerifiedMemo:
    """A bounded set of verifications that succeeded; safe to share between threads."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise MalformedError(f"the memo holds at least 1 verification, not {size}")
        self._size = size
        self._lock = threading.Lock()
        self._seen: OrderedDict[_MemoKey, None] = OrderedDict()

    def __contains__(self, key: _MemoKey) -> bool:
        with self._lock:
            return key in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def add(self, key: _MemoKey) -> None:
        with self._lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_VERIFIED = _VerifiedMemo(_MEMO_SIZE)


@lru_cache(maxsize=4096)
def _load_key(public_key: bytes) -> tuple[str, Ed25519PublicKey]:
    # Cached: the node verifies many entries by few keys. Pure: same bytes, same key.
    keyid = key_id(public_key)
    try:
        return keyid, Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise MalformedError(f"not an Ed25519 public key: {exc}") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode_canonical(value: bytes) -> bytes | None:
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error:
        return None
    return raw if binascii.b2a_base64(raw, newline=False) == value else None


def _b64decode(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(f"{where} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{where} is not standard base64: {exc}") from exc
    # Non-zero padding bits, or missing padding, would give a second spelling of the bytes.
    if base64.b64encode(raw).decode("ascii") != value:
        raise MalformedError(f"{where} is not canonical (padded, zero pad bits) base64")
    return raw

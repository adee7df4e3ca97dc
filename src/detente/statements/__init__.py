"""Detente statements: DSSE envelopes around canonical JSON payloads, one kind per body model.

Pure: bytes and values in, frozen validated objects out; no I/O, no clock. ``open_entry``
parses a log entry without checking signatures (that needs the group's keys);
``verify_signature`` checks one key's signature.
"""

from __future__ import annotations

from detente.statements.envelope import (
    MAX_ENTRY_SIZE,
    MAX_SIGNATURES,
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    key_id,
    pae,
    sign_envelope,
    verify_signature,
)
from detente.statements.kinds import BODY_TYPES, KINDS, Body, Pap, Tlp
from detente.statements.payload import (
    GENESIS_KIND,
    MAX_SEQ,
    SignedStatement,
    Statement,
    encode_statement,
    entry_hash,
    make_entry,
    open_entry,
    parse_statement,
)

__all__ = [
    "BODY_TYPES",
    "GENESIS_KIND",
    "KINDS",
    "MAX_ENTRY_SIZE",
    "MAX_SEQ",
    "MAX_SIGNATURES",
    "PAYLOAD_TYPE",
    "Body",
    "Envelope",
    "Pap",
    "Signature",
    "SignedStatement",
    "Statement",
    "Tlp",
    "encode_statement",
    "entry_hash",
    "key_id",
    "make_entry",
    "open_entry",
    "pae",
    "parse_statement",
    "sign_envelope",
    "verify_signature",
]

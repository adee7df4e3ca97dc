"""Transparency log: RFC 9162 Merkle hashing and proofs, C2SP notes, checkpoints and tiles.

This package re-exports the pure core (no file, socket, database or clock). The durable log
and the services (``detente.tlog.storage``, ``.sequencer``, ``.server``, ``.client``) are
imported from their own modules.
"""

from __future__ import annotations

from detente.tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint, sign_checkpoint
from detente.tlog.compact import CompactRange
from detente.tlog.cosignature import CosignatureSigner, CosignatureVerifier, cosignature_message
from detente.tlog.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from detente.tlog.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    key_id,
    open_note,
    parse_vkey,
    sign_note,
)
from detente.tlog.proof import (
    NodeID,
    ProofPlan,
    assemble,
    consistency_plan,
    inclusion_plan,
    root_from_consistency,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from detente.tlog.receipt import Receipt, verify_receipt
from detente.tlog.tile import (
    ENTRIES_LEVEL,
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileID,
    encode_index,
    format_entry_bundle,
    hash_from_tile,
    node_tile,
    parse_entry_bundle,
    tile_width,
    tiles_for_size,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "EMPTY_ROOT",
    "ENTRIES_LEVEL",
    "HASH_SIZE",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Checkpoint",
    "CompactRange",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "NodeID",
    "Note",
    "NoteSignature",
    "ProofPlan",
    "Receipt",
    "SignedCheckpoint",
    "Signer",
    "TileID",
    "Verifier",
    "assemble",
    "consistency_plan",
    "cosignature_message",
    "encode_index",
    "format_entry_bundle",
    "hash_from_tile",
    "inclusion_plan",
    "key_id",
    "leaf_hash",
    "node_hash",
    "node_tile",
    "open_checkpoint",
    "open_note",
    "parse_entry_bundle",
    "parse_vkey",
    "root_from_consistency",
    "root_from_inclusion",
    "sign_checkpoint",
    "sign_note",
    "tile_width",
    "tiles_for_size",
    "verify_consistency",
    "verify_inclusion",
    "verify_receipt",
]

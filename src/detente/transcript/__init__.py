"""Transcripts: self-contained, offline-verifiable bundles of what a group said.

``build_bundle`` (``detente.transcript.export``) takes a subject (an incident, an agreement
or a range of entries) and the caller's log, and returns a ``Bundle``: the statements, their
inclusion proofs, the key history needed to check their signatures, the genesis, and a
cosigned checkpoint. ``verify_bundle`` (``detente.transcript.verify``) checks such a bundle
with no network and no clock and returns a readable ``Transcript`` with a verdict. Pure:
only ``export_to_file`` touches a file.
"""

from __future__ import annotations

from detente.transcript.bundle import (
    FORMAT,
    MAX_BUNDLE_SIZE,
    Bundle,
    EarlierCheckpoint,
    LoggedEntry,
    Subject,
)
from detente.transcript.export import build_bundle, export_to_file
from detente.transcript.report import DeadlineState, DeadlineStatus, Row, Transcript, WitnessTime
from detente.transcript.selection import select
from detente.transcript.verify import verify_bundle, verify_parsed

__all__ = [
    "FORMAT",
    "MAX_BUNDLE_SIZE",
    "Bundle",
    "DeadlineState",
    "DeadlineStatus",
    "EarlierCheckpoint",
    "LoggedEntry",
    "Row",
    "Subject",
    "Transcript",
    "WitnessTime",
    "build_bundle",
    "export_to_file",
    "select",
    "verify_bundle",
    "verify_parsed",
]

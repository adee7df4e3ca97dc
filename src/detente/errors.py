"""The one error tree of Detente.

Every error the library raises on purpose is a ``DetenteError``. The tree separates input
that cannot even be read from input that reads fine but is false, because a caller (and a
person reading a misbehaviour report) must be able to tell a garbled message from a forgery::

    DetenteError
    ├── MalformedError            input cannot be parsed: wrong syntax, length, encoding
    │   └── TooLargeError         input exceeds a format limit (entry > 65,535 bytes, ...)
    ├── VerificationError         well-formed, but does not verify
    │   ├── RootMismatchError     a proof computes a root other than the one expected
    │   ├── SignatureError        no trusted signature verifies, or a known key's signature fails
    │   ├── QuorumError           too few trusted cosignatures
    │   └── SplitViewError        two signed checkpoints that cannot both be true
    ├── ConflictError             a state precondition failed (witness size mismatch, ...)
    ├── RejectedError             a well-formed, validly signed statement the group rules refuse
    ├── NotFoundError             the thing asked for does not exist (unknown origin, index)
    └── StorageError              the durable store is unusable or inconsistent

Domain errors carry no HTTP status codes: the web layer maps them (RFC 9457 problem details).
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DetenteError",
    "MalformedError",
    "NotFoundError",
    "QuorumError",
    "RejectedError",
    "RootMismatchError",
    "SignatureError",
    "SplitViewError",
    "StorageError",
    "TooLargeError",
    "VerificationError",
]


class DetenteError(Exception):
    """Base of every error Detente raises on purpose."""


class MalformedError(DetenteError, ValueError):
    """Input cannot be parsed, or breaks a precondition stated in numbers."""


class TooLargeError(MalformedError):
    """Input exceeds a limit of its format."""


class VerificationError(DetenteError):
    """Input is well-formed but does not verify."""


class RootMismatchError(VerificationError):
    """A proof computes a root other than the expected one; carries both."""

    def __init__(self, message: str, *, expected: bytes, calculated: bytes) -> None:
        super().__init__(f"{message}: expected {expected.hex()}, calculated {calculated.hex()}")
        self.expected = expected
        self.calculated = calculated


class SignatureError(VerificationError):
    """No trusted signature verifies, or a signature by a known key fails."""


class QuorumError(VerificationError):
    """Fewer trusted cosignatures than the quorum requires."""

    def __init__(self, message: str, *, needed: int, found: int) -> None:
        super().__init__(f"{message}: needed {needed}, found {found}")
        self.needed = needed
        self.found = found


class SplitViewError(VerificationError):
    """Two checkpoints, each validly signed, that cannot both be true.

    ``first`` and ``second`` are the complete signed notes (bytes), enough for any third party
    to check offline that the log signed both. ``proof`` may carry the consistency proof that
    failed (empty when the two have the same size and different roots).
    """

    def __init__(
        self,
        message: str,
        *,
        first: bytes,
        second: bytes,
        proof: tuple[bytes, ...] = (),
    ) -> None:
        super().__init__(message)
        self.first = first
        self.second = second
        self.proof = proof


class ConflictError(DetenteError):
    """A state precondition failed: the caller's view is not the current one."""


class RejectedError(DetenteError):
    """The group rules refuse a statement; ``rule`` is a short stable code (``seq-gap``, ...).

    The message says in words why, for the person who wrote the statement. A statement whose
    signature does not verify is refused the same way (``bad-signature``): the group rules
    decide which key counts, so the refusal belongs to them.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{message} [{rule}]")
        self.rule = rule
        self.message = message


class NotFoundError(DetenteError, LookupError):
    """The thing asked for does not exist."""


class StorageError(DetenteError):
    """The durable store is unusable or inconsistent."""

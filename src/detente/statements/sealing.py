"""Sealed bodies: what a confidential statement's ciphertext holds, and how a reader checks it.

A body of a sealable kind (``SealableBody``) keeps its routing fields readable by everyone
(who is addressed, which incident, which norms, deadlines) and moves its confidential fields
(titles, free text, evidence, indicators) into an age file encrypted to named recipients:

- the **plaintext** is the canonical JSON of the whole body as it would read unsealed (every
  field, ``sealed`` absent): ``plaintext(body)``;
- the **public body** is that body with the confidential fields left out and ``sealed`` naming
  the ciphertext (its SHA-256, size and recipients): ``public_body(body, sealed)``. It is what
  the statement's payload carries, so the log commits to exactly the ciphertext that was sent;
- a recipient that decrypted the ciphertext calls ``open_sealed(public, plaintext)``: the
  plaintext must be a valid unsealed body of the same kind, in canonical form, whose readable
  fields equal the logged ones. An author therefore cannot tell its recipients something other
  than what the log (and the group rules) saw.

Encryption itself (age, X25519) is in ``detente.crypto.age``; this module is pure.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from detente.errors import MalformedError, TooLargeError, VerificationError
from detente.statements._canonical import dumps
from detente.statements.kinds import BODY_TYPES, SealableBody, Sealed, Tlp

__all__ = [
    "CONFIDENTIAL_TLP",
    "MAX_PLAINTEXT_SIZE",
    "SEALABLE_KINDS",
    "TLP_ORDER",
    "open_sealed",
    "plaintext",
    "public_body",
]

#: Markings whose content must be encrypted (FIRST TLP 2.0: limited to named recipients or
#: their organisations). The hub refuses such content in the clear.
CONFIDENTIAL_TLP = frozenset({Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED})
#: From least to most restrictive; re-sharing may move right, never left.
TLP_ORDER: tuple[Tlp, ...] = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
#: Kinds whose bodies can be sealed.
SEALABLE_KINDS = frozenset(
    kind for kind, body_type in BODY_TYPES.items() if issubclass(body_type, SealableBody)
)
#: The largest plaintext of a sealed body (evidence lists can outgrow a log entry).
MAX_PLAINTEXT_SIZE = 1 << 20

_B = TypeVar("_B", bound=SealableBody)


def plaintext(body: SealableBody) -> bytes:
    """The bytes to encrypt for ``body`` (an unsealed body): its canonical JSON."""
    if body.sealed is not None:
        raise MalformedError("this body is already sealed; seal the body with its content")
    data = dumps(body.model_dump(mode="json", exclude_none=True)).encode()
    if len(data) > MAX_PLAINTEXT_SIZE:
        raise TooLargeError(
            f"sealed content is at most {MAX_PLAINTEXT_SIZE} bytes, not {len(data)}"
        )
    return data


def public_body(body: _B, sealed: Sealed) -> _B:
    """What the payload carries for ``body`` sealed into the ciphertext ``sealed`` names."""
    if body.sealed is not None:
        raise MalformedError("this body is already sealed")
    fields = body.model_dump(exclude_none=True)
    for name in body.CONFIDENTIAL:
        fields.pop(name, None)
    fields["sealed"] = sealed
    try:
        return type(body).model_validate(fields)
    except ValidationError as exc:  # pragma: no cover - the fields came from a valid body
        raise MalformedError(f"cannot seal this {type(body).__name__}: {exc}") from exc


def open_sealed(public: _B, data: bytes) -> _B:
    """The whole body behind ``public``, from the decrypted ``data``.

    ``MalformedError``: ``data`` is not a canonical, valid, unsealed body of that kind.
    ``VerificationError``: it is, but a readable field differs from the logged one.
    """
    if public.sealed is None:
        raise MalformedError("this body is not sealed")
    if len(data) > MAX_PLAINTEXT_SIZE:
        raise TooLargeError(
            f"sealed content is at most {MAX_PLAINTEXT_SIZE} bytes, not {len(data)}"
        )
    body_type = type(public)
    try:
        body = body_type.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise MalformedError(
            f"the sealed content is not a valid {body_type.__name__}: "
            f"{exc.errors(include_url=False)[0]['msg']}"
        ) from exc
    if body.sealed is not None:
        raise MalformedError("the sealed content is itself sealed")
    if plaintext(body) != data:
        raise MalformedError("the sealed content is not in canonical JSON form")
    for name in body_type.model_fields:
        if name == "sealed" or name in body_type.CONFIDENTIAL:
            continue
        logged, told = getattr(public, name), getattr(body, name)
        if logged != told:
            raise VerificationError(
                f"the sealed content says {name} is {told!r}, but the logged statement says "
                f"{logged!r}: the author told its recipients something other than the log"
            )
    return body

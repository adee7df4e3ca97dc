"""Single-byte tampering of transcript bundles: where a change can land, and making it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from detente.transcript import Bundle, EarlierCheckpoint, LoggedEntry

__all__ = ["Site", "all_mutations", "field_byte", "flip", "mutate", "sites"]

#: (field, item, proof hash (-1: the bytes themselves), length)
Site = tuple[str, int, int, int]


def flip(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]


def sites(bundle: Bundle) -> list[Site]:
    """(field, item, hash, length) for every byte string a mutation may hit."""
    found: list[Site] = [("checkpoint", 0, -1, len(bundle.checkpoint))]
    for name in ("genesis", "statements", "key_history"):
        items = [bundle.genesis] if name == "genesis" else list(getattr(bundle, name))
        for k, item in enumerate(items):
            found.append((name, k, -1, len(item.entry)))
            found.extend((name, k, j, 32) for j in range(len(item.proof)))
    for k, older in enumerate(bundle.earlier):
        found.append(("earlier", k, -1, len(older.note)))
        found.extend(("earlier", k, j, 32) for j in range(len(older.proof)))
    return found


def mutate(bundle: Bundle, site: Site, position: int, value: int) -> Bundle:
    name, k, j, _ = site
    if name == "checkpoint":
        return dataclasses.replace(bundle, checkpoint=flip(bundle.checkpoint, position, value))
    if name == "earlier":
        older = bundle.earlier[k]
        if j < 0:
            changed = EarlierCheckpoint(flip(older.note, position, value), older.proof)
        else:
            proof = list(older.proof)
            proof[j] = flip(proof[j], position, value)
            changed = EarlierCheckpoint(older.note, tuple(proof))
        earlier = list(bundle.earlier)
        earlier[k] = changed
        return dataclasses.replace(bundle, earlier=tuple(earlier))
    items = [bundle.genesis] if name == "genesis" else list(getattr(bundle, name))
    item = items[k]
    if j < 0:
        new = LoggedEntry(item.index, flip(item.entry, position, value), item.proof)
    else:
        proof = list(item.proof)
        proof[j] = flip(proof[j], position, value)
        new = LoggedEntry(item.index, item.entry, tuple(proof))
    if name == "genesis":
        return dataclasses.replace(bundle, genesis=new)
    items[k] = new
    return dataclasses.replace(bundle, **{name: tuple(items)})


def field_byte(bundle: Bundle, site: Site, position: int) -> int:
    name, k, j, _ = site
    if name == "checkpoint":
        return bundle.checkpoint[position]
    if name == "earlier":
        older = bundle.earlier[k]
        return older.note[position] if j < 0 else older.proof[j][position]
    item = bundle.genesis if name == "genesis" else getattr(bundle, name)[k]
    return item.entry[position] if j < 0 else item.proof[j][position]


def all_mutations(bundle: Bundle) -> Iterator[tuple[Site, int]]:
    for site in sites(bundle):
        for position in range(site[3]):
            yield site, position

"""Multi-key bundles (PROTOCOL §9): several state records at one height, proven offline.

```
MULTI = {"version": 1, "chain_id": str, "genesis_hash": bin32,
         "entries": [{"key": str, "value": bin | nil, "proof": PROOF}, ...],
         "header": HEADER, "qc": QC, "validator_chain": [...]}
```

``entries`` is non-empty, its keys distinct and sorted by their UTF-8 bytes. One bundle
answers a question that needs several records at the same instant (may this entity bid
here now: its attestation, its freeze flag, its credit records) and lets the verifier apply
the rule itself. ``build_multi`` (node side) reads the proofs from the state tree at one
committed height; ``verify_multi`` checks the entries' order, the certified header
(``ledger.bundle.verify_certified``) and every entry's state proof, naming the first failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import encoding, jsonform
from ledger.block import Header
from ledger.bundle import (
    ENVELOPE_FIELDS,
    MAX_KEY_LEN,
    MAX_VALUE_BYTES,
    Certified,
    binary_form,
    certified_at,
    check_key,
    decode_form,
    json_form,
    parse_certified,
    verify_certified,
    verify_state_entry,
)
from ledger.errors import InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_list, get_str
from ledger.genesis import Anchor
from ledger.smt import StateTree
from ledger.smt_proof import Proof
from ledger.store import BlockStore

WHAT = "multi-key bundle"
# The eligibility rule reads a handful of records; the bound keeps a bundle's proofs small.
MAX_ENTRIES = 256
_FIELDS = {*ENVELOPE_FIELDS, "entries"}
_ENTRY_FIELDS = {"key", "value", "proof"}


@dataclass(frozen=True)
class VerifiedEntry:
    """``key`` held ``value`` (CE bytes) after the block, or was absent (``value`` None)."""

    key: str
    value: bytes | None


@dataclass(frozen=True)
class VerifiedMulti:
    """What a valid multi-key bundle proves: every entry, in the state after ``height``."""

    entries: tuple[VerifiedEntry, ...]
    height: int
    header: Header


def sorted_keys(keys: Iterable[str]) -> list[str]:
    """``keys`` once each, sorted by their UTF-8 bytes (the order PROTOCOL §9 fixes)."""
    return sorted({check_key(k) for k in keys}, key=lambda k: k.encode("utf-8"))


def make_multi(certified: Certified,
               entries: Sequence[tuple[str, bytes | None, Proof]]) -> Any:
    """The binary-form §9 bundle of these parts, entries in the order given."""
    return {**certified.head_fields(),
            "entries": [{"key": k, "value": v, "proof": p.to_obj()} for k, v, p in entries],
            **certified.tail_fields()}


def build_multi(store: BlockStore, tree: StateTree, keys: Iterable[str],
                height: int | None = None) -> Any:
    """The binary-form bundle proving every key's value (or absence) after block ``height``
    (default: the head); duplicate keys are proven once, in UTF-8 byte order."""
    ordered = sorted_keys(keys)
    if not 1 <= len(ordered) <= MAX_ENTRIES:
        raise InvalidInput(f"a multi-key bundle proves 1..{MAX_ENTRIES} keys, got {len(ordered)}")
    certified = certified_at(store, height)
    root = certified.header.state_root
    entries = [(key, *tree.get_with_proof(key, root)) for key in ordered]
    return make_multi(certified, entries)


def _parse(obj: Any) -> tuple[Certified, list[tuple[str, bytes | None, Proof]]]:
    """Strict shape checks of the binary form, the entries' order included."""
    try:
        m = exact_map(obj, WHAT, _FIELDS)
        certified = parse_certified(m, WHAT)
        raw = get_list(m, "entries", WHAT, MAX_ENTRIES)
        entries: list[tuple[str, bytes | None, Proof]] = []
        for i, item in enumerate(raw):
            where = f"{WHAT}.entries[{i}]"
            e = exact_map(item, where, _ENTRY_FIELDS)
            value = None if e["value"] is None else get_bytes(e, "value", where,
                                                              max_len=MAX_VALUE_BYTES)
            entries.append((get_str(e, "key", where, MAX_KEY_LEN), value,
                            Proof.from_obj(e["proof"])))
    except ProofError:
        raise
    except InvalidInput as exc:
        raise ProofError(f"malformed {WHAT}: {exc}") from None
    if not entries:
        raise ProofError(f"malformed {WHAT}: entries is empty")
    _check_order([key for key, _, _ in entries])
    return certified, entries


def _check_order(keys: Sequence[str]) -> None:
    try:
        encoded = [k.encode("utf-8") for k in keys]
    except UnicodeEncodeError as exc:
        raise ProofError(f"malformed {WHAT}: a key is not valid UTF-8 text: {exc}") from None
    for i in range(1, len(encoded)):
        if encoded[i] == encoded[i - 1]:
            raise ProofError(f"{WHAT} lists key {keys[i]!r} twice")
        if encoded[i] < encoded[i - 1]:
            raise ProofError(
                f"{WHAT} entries are not sorted by key: {keys[i]!r} comes after {keys[i - 1]!r}"
            )


def verify_multi(obj: Any, anchor: Anchor) -> VerifiedMulti:
    """Verify a binary-form multi-key bundle against ``anchor``; ProofError says what failed."""
    certified, entries = _parse(obj)
    header = verify_certified(certified, anchor)
    for key, value, proof in entries:
        verify_state_entry(anchor.suite, header, key, value, proof)
    return VerifiedMulti(tuple(VerifiedEntry(k, v) for k, v, _ in entries), header.height,
                         header)


def to_json(obj: Any) -> Any:
    """The JSON form: values, proofs and every other ``bin`` as lowercase hex."""
    return json_form(obj, jsonform.MULTI, WHAT)


def from_json(obj: Any) -> Any:
    return binary_form(obj, jsonform.MULTI, WHAT)


def encode_multi(obj: Any) -> bytes:
    return encoding.encode(obj)


def decode_multi(data: bytes) -> Any:
    return decode_form(data, WHAT)

"""The JSON form of typed values: the same fields as the binary (CE) form, bytes as hex.

One convention for bytes in JSON, everywhere (API, CLI, files; PROTOCOL.md §10):

- **Schema-typed fields are plain lowercase hex.** Where a schema fixes which fields are
  bytes (``HEADER``, ``QC``, ``VALIDATORS``, ``PROOF``, ``PATH``, ``BUNDLE``, ``INCLUSION``,
  ``MULTI``, ``TX``, ``RECEIPT``, ``BLOCK``, ``GENESIS``, ``ANCHOR``): ``to_json(value,
  schema)`` writes every ``bin`` field as lowercase hex, ``from_json(obj, schema)`` turns it
  back into bytes and refuses anything else (upper case, odd length, a field the schema
  does not know).
- **Untyped values are tagged.** Where no schema fixes the shape (transaction ``args``,
  receipt ``events``, decoded state records, any free-form value): a byte string is
  ``{"$bin": "<lowercase hex>"}`` (``tagged_to_json`` / ``tagged_from_json``), so a reader
  can tell bytes from text without knowing the contract. A map whose only key is
  ``"$bin"`` or ``"$map"`` (which would read back as a tag) is written
  ``{"$map": {<its key>: <its value, tagged>}}``, so every value CE carries has exactly one
  tagged form, and a transaction whose args hold such a map can still be shown and read
  back byte for byte.

The test-vector files (``ledger/vectors``, ``../shared/vectors``) are read without schemas,
so they are tagged throughout; a tagged document becomes a schema-typed one by
``tagged_from_json`` followed by ``to_json(value, schema)``.

Field *presence* and types other than bytes are not judged here: the typed ``from_obj``
parsers (``Header.from_obj`` …) do that on the binary form this module returns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ledger.errors import InvalidInput

# Free-form values are bounded in depth so a hostile document cannot exhaust the stack.
MAX_DEPTH = 32
_TAG_KEYS = ({"$bin"}, {"$map"})  # a map with one of these as its only key is escaped


class Bin:
    """A byte string, written as lowercase hex."""


class Plain:
    """A JSON scalar (text, integer, boolean, null) or plain containers of them, no bytes."""


# Plain fields of one known JSON type. They convert exactly as ``Plain`` does (types other
# than bytes are the ``from_obj`` parsers' to judge); the type they name is what the API's
# OpenAPI document states for the field (``shell.apischema``), so it is written once, here.
class Int(Plain):
    """A JSON integer ≥ 0 (heights, views, indexes, counts, nonces, Unix ms)."""


class Text(Plain):
    """A JSON string."""


class Flag(Plain):
    """A JSON boolean."""


class Hash(Bin):
    """A 32-byte digest (``bin32`` in PROTOCOL.md): 64 lowercase hex digits. Converts as
    ``Bin``; its length is the ``from_obj`` parsers' to check."""


class Tagged:
    """A free-form value in which a byte string is written ``{"$bin": "<hex>"}``."""


@dataclass(frozen=True)
class ListOf:
    item: Schema


@dataclass(frozen=True)
class Fixed:
    """An array of fixed length whose items have their own schemas (e.g. ``[index, sig]``)."""

    items: tuple[Schema, ...]


@dataclass(frozen=True)
class Nullable:
    inner: Schema


@dataclass(frozen=True)
class MapOf:
    """A map from text keys (any) to values of one schema."""

    value: Schema


Schema: TypeAlias = (
    "Bin | Plain | Tagged | ListOf | Fixed | Nullable | MapOf | Mapping[str, Schema]"
)

BIN = Bin()
HASH = Hash()
PLAIN = Plain()
INT = Int()
TEXT = Text()
FLAG = Flag()
TAGGED = Tagged()


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: an object naming a key twice is refused
    (ValueError), not read as its last value: another reader (a browser's, a platform's)
    could take the first, and one document would then say two things."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def parse_json(data: bytes | str, what: str) -> Any:
    """``data`` parsed as JSON, or ``InvalidInput`` naming ``what`` (a file, an option, an
    answer): not JSON, not UTF-8, a key twice in one object (``unique_keys``), or nested
    beyond what the parser's recursion allows (a ``RecursionError`` from ``json.loads`` is
    not an error a person should see as one)."""
    try:
        return json.loads(data, object_pairs_hook=unique_keys)
    except RecursionError:
        raise InvalidInput(f"{what} is JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} is not JSON: {exc}") from None


def hex_to_bytes(text: Any, where: str = "value") -> bytes:
    """Strict lowercase hex to bytes; anything else is an InvalidInput naming ``where``."""
    if type(text) is not str:
        raise InvalidInput(f"{where} must be a lowercase hex string, got {type(text).__name__}")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = None
    # ``fromhex`` also takes upper case and spaces; ``hex()`` writes only the strict form,
    # so the round trip keeps exactly that (in C: a client's 10 kB transaction is 20,000
    # characters, too many for a check in Python per character).
    if raw is None or raw.hex() != text:
        raise InvalidInput(f"{where} must be lowercase hex of even length")
    return raw


def to_json(value: Any, schema: Schema, where: str = "$") -> Any:
    """The JSON form of a binary-form ``value`` (bytes → hex) following ``schema``."""
    return _walk(value, schema, where, to_json=True, depth=0)


def from_json(obj: Any, schema: Schema, where: str = "$") -> Any:
    """The binary form of a JSON-form ``obj`` (hex → bytes) following ``schema``."""
    return _walk(obj, schema, where, to_json=False, depth=0)


def tagged_to_json(value: Any) -> Any:
    """Free-form value → JSON with ``{"$bin": hex}`` for every byte string."""
    return _tagged(value, "$", to_json=True, depth=0)


def tagged_from_json(obj: Any) -> Any:
    """JSON with ``{"$bin": hex}`` tags → free-form value with bytes."""
    return _tagged(obj, "$", to_json=False, depth=0)


def _walk(value: Any, schema: Schema, where: str, to_json: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: nested deeper than {MAX_DEPTH}")
    if isinstance(schema, Bin):
        if to_json:
            if type(value) is not bytes:
                raise InvalidInput(f"{where} must be bytes, got {type(value).__name__}")
            return value.hex()
        return hex_to_bytes(value, where)
    if isinstance(schema, Plain):
        return _plain(value, where, depth)
    if isinstance(schema, Tagged):
        return _tagged(value, where, to_json, depth)
    if isinstance(schema, Nullable):
        return None if value is None else _walk(value, schema.inner, where, to_json, depth)
    if isinstance(schema, ListOf):
        if type(value) not in (list, tuple):
            raise InvalidInput(f"{where} must be an array, got {type(value).__name__}")
        return [
            _walk(v, schema.item, f"{where}[{i}]", to_json, depth + 1) for i, v in enumerate(value)
        ]
    if isinstance(schema, Fixed):
        if type(value) not in (list, tuple) or len(value) != len(schema.items):
            raise InvalidInput(f"{where} must be an array of {len(schema.items)} items")
        return [
            _walk(v, s, f"{where}[{i}]", to_json, depth + 1)
            for i, (v, s) in enumerate(zip(value, schema.items, strict=True))
        ]
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a map, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            raise InvalidInput(f"{where} has a key that is not text: {key!r}")
        if isinstance(schema, MapOf):
            field_schema: Schema = schema.value
        else:
            if key not in schema:
                raise InvalidInput(f"{where} has unknown field {key!r}")
            field_schema = schema[key]
        out[key] = _walk(item, field_schema, f"{where}.{key}", to_json, depth + 1)
    return out


def _plain(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: nested deeper than {MAX_DEPTH}")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) in (list, tuple):
        return [_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    raise InvalidInput(f"{where} must be text, an integer, a boolean or null")


def _tagged(value: Any, where: str, to_json: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: nested deeper than {MAX_DEPTH}")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is bytes:
        if to_json:
            return {"$bin": value.hex()}
        raise InvalidInput(f"{where}: raw bytes in a JSON document")
    if type(value) in (list, tuple):
        return [_tagged(v, f"{where}[{i}]", to_json, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if not to_json and set(value) == {"$bin"}:
            return hex_to_bytes(value["$bin"], f"{where}.$bin")
        escaped = set(value) in _TAG_KEYS  # alone, its key would read back as a tag
        if not to_json and escaped:  # {"$map": M}: the map M, as it is
            value = value["$map"]
            if not isinstance(value, Mapping) or set(value) not in _TAG_KEYS:
                raise InvalidInput(f"{where}.$map must be a map whose only key is '$bin' or "
                                   "'$map'")
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise InvalidInput(f"{where} has a key that is not text: {k!r}")
            out[k] = _tagged(v, f"{where}.{k}", to_json, depth + 1)
        return {"$map": out} if to_json and escaped else out
    if type(value) is float and not to_json:  # JSON's 20.5 or 1e1: CE has no floats
        raise InvalidInput(f"{where}: {value!r} is not an integer; the chain's numbers are "
                           "integers only (money in fen, times in ms, points whole)")
    raise InvalidInput(f"{where}: type {type(value).__name__} has no JSON form")


# The schemas: every field typed ``bin`` in PROTOCOL §3–§9, and nowhere else (``HASH`` where it
# is ``bin32``); plain fields name their JSON type (``INT``, ``TEXT``, ``FLAG``).
HEADER: Mapping[str, Schema] = {
    "chain_id": TEXT,
    "height": INT,
    "prev_hash": HASH,
    "time_ms": INT,
    "view": INT,
    "proposer": INT,
    "tx_root": HASH,
    "receipts_root": HASH,
    "state_root": HASH,
    "validators_hash": HASH,
    "next_validators_hash": HASH,
}
QC: Mapping[str, Schema] = {
    "height": INT,
    "view": INT,
    "block_hash": HASH,
    "votes": ListOf(Fixed((INT, BIN))),
}
VALIDATOR: Mapping[str, Schema] = {"name": TEXT, "pubkey": BIN}
VALIDATORS = ListOf(VALIDATOR)
PROOF: Mapping[str, Schema] = {
    "leaf": Nullable({"path": HASH, "value_hash": HASH}),
    "siblings": ListOf(HASH),
}
VALIDATOR_CHAIN = ListOf({"header": HEADER, "qc": QC, "next_validators": VALIDATORS})
BUNDLE: Mapping[str, Schema] = {
    "version": INT,
    "chain_id": TEXT,
    "genesis_hash": HASH,
    "key": TEXT,
    "value": Nullable(BIN),
    "proof": PROOF,
    "header": HEADER,
    "qc": QC,
    "validator_chain": VALIDATOR_CHAIN,
}
# PROTOCOL §8: an RFC 9162 audit path, sibling hashes from the leaf up.
PATH = ListOf(HASH)
INCLUSION: Mapping[str, Schema] = {
    "version": INT,
    "chain_id": TEXT,
    "genesis_hash": HASH,
    "index": INT,
    "count": INT,
    "tx": BIN,
    "tx_path": PATH,
    "receipt": BIN,
    "receipt_path": PATH,
    "header": HEADER,
    "qc": QC,
    "validator_chain": VALIDATOR_CHAIN,
}
# PROTOCOL §9.
MULTI_ENTRY: Mapping[str, Schema] = {"key": TEXT, "value": Nullable(BIN), "proof": PROOF}
MULTI: Mapping[str, Schema] = {
    "version": INT,
    "chain_id": TEXT,
    "genesis_hash": HASH,
    "entries": ListOf(MULTI_ENTRY),
    "header": HEADER,
    "qc": QC,
    "validator_chain": VALIDATOR_CHAIN,
}
TX_BODY: Mapping[str, Schema] = {
    "chain_id": TEXT,
    "sender": BIN,
    "nonce": INT,
    "call": TEXT,
    "args": TAGGED,
}
TX: Mapping[str, Schema] = {"body": TX_BODY, "sig": BIN}
RECEIPT: Mapping[str, Schema] = {
    "tx_id": HASH,
    "code": TEXT,
    "message": TEXT,
    "events": TAGGED,
}
BLOCK: Mapping[str, Schema] = {"header": HEADER, "txs": ListOf(TX)}
GENESIS: Mapping[str, Schema] = {
    "chain_id": TEXT,
    "suite": TEXT,
    "time_ms": INT,
    "validators": VALIDATORS,
    "committee": ListOf(BIN),
    "roles": MapOf(ListOf(BIN)),
    "params": MapOf(PLAIN),
    "demo": FLAG,
}
ANCHOR: Mapping[str, Schema] = {
    "suite": TEXT,
    "genesis_header": HEADER,
    "validators": VALIDATORS,
}

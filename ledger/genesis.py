"""The genesis document, the genesis block, creating a chain, and the verifier's anchor file.

A chain starts from one JSON document that every founding platform signs off on (an example,
with every field explained, is ``configs/genesis.example.json``)::

    {
      "chain_id": "gd-ptrade-1",          # text, 1..64 of [A-Za-z0-9._-]; bound into every tx/vote
      "suite": "sm2-sm3",                 # PROTOCOL §2: "ed25519-sha256" or "sm2-sm3"
      "time_ms": 1760000000000,           # genesis time, Unix ms UTC; block 1 must be later
      "validators": [{"name": "shanwei", "pubkey": "<hex>"}, ...],   # the first validator set
      "committee": ["<hex pubkey>", ...], # governance keys of the founding platforms
      "roles": {"attestor": ["<hex>"], ...},   # initial role grants (DOMAIN.md roles)
      "params": {"bid_debarment_min_days": 365, ...},  # overrides of contract defaults
      "demo": true                        # optional, default false: a demonstration chain
    }

``demo`` declares a demonstration chain, the only kind on which the parameters of
``contracts.params.DEMO_ONLY`` (the shortened "demo days", ``demo_day_ms``) may differ from
their defaults, in genesis or later by governance (DOMAIN.md, readings settled). It is
absent from the binary and JSON forms when false, so a production genesis document reads
and encodes as it always did.

Bytes are lowercase hex in the JSON form (``ledger.jsonform.GENESIS``) and raw in the binary
form (``GenesisDoc.to_obj``; the store keeps its CE under ``schema.GENESIS``). Parsing is
strict: a missing or unknown field, a malformed key or a duplicate is an ``InvalidInput``
saying which.

The genesis block (PROTOCOL §4) is height 0, ``prev_hash`` zero, no transactions
(``tx_root = receipts_root = H(b"")``), ``state_root`` = root of the genesis state
(``contracts.genesis.genesis_state(doc)``: parameters, the validator set, roles),
``validators_hash = next_validators_hash = Hd(0x40, CE(validators))``, view 0, proposer 0. It
has no QC: it is the trust anchor. The **anchor file** a verifier holds is
``{"suite", "genesis_header", "validators"}`` in the JSON form (``ledger.jsonform.ANCHOR``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import jsonform
from ledger.block import (
    Block,
    Header,
    Validator,
    ValidatorSet,
    validators_from_obj,
    validators_hash,
    validators_to_obj,
)
from ledger.crypto import ZERO_HASH, Suite, get_suite
from ledger.errors import InvalidInput
from ledger.fields import exact_map, get_int, get_list, get_str
from ledger.kv import MemoryKV
from ledger.smt import StateTree

if TYPE_CHECKING:
    from ledger.store import BlockStore

MAX_COMMITTEE = 256
MAX_ROLES = 64
MAX_ROLE_MEMBERS = 1024
MAX_PARAMS = 1024
MAX_GENESIS_FILE_BYTES = 4 << 20
_CHAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FIELDS = {"chain_id", "suite", "time_ms", "validators", "committee", "roles", "params"}
_OPTIONAL = frozenset({"demo"})


@dataclass(frozen=True)
class GenesisDoc:
    chain_id: str
    suite: str
    time_ms: int
    validators: ValidatorSet
    committee: list[bytes] = field(default_factory=list)
    roles: dict[str, list[bytes]] = field(default_factory=dict)
    params: dict[str, int | str] = field(default_factory=dict)
    demo: bool = False

    @property
    def crypto(self) -> Suite:
        return get_suite(self.suite)

    def to_obj(self) -> dict[str, Any]:
        """The binary form (bytes raw): what CE encodes and ``from_obj`` reads."""
        obj: dict[str, Any] = {
            "chain_id": self.chain_id,
            "suite": self.suite,
            "time_ms": self.time_ms,
            "validators": validators_to_obj(self.validators),
            "committee": list(self.committee),
            "roles": {r: list(m) for r, m in self.roles.items()},
            "params": dict(self.params),
        }
        if self.demo:
            obj["demo"] = True
        return obj

    @classmethod
    def from_obj(cls, obj: Any) -> GenesisDoc:
        m = exact_map(obj, "genesis", _FIELDS, _OPTIONAL)
        chain_id = get_str(m, "chain_id", "genesis", 64)
        if not _CHAIN_ID.fullmatch(chain_id):
            raise InvalidInput("genesis.chain_id must be 1..64 characters of [A-Za-z0-9._-]")
        suite = get_suite(get_str(m, "suite", "genesis", 32))
        time_ms = get_int(m, "time_ms", "genesis")
        validators = validators_from_obj(m["validators"])
        for i, v in enumerate(validators):
            _check_key(suite, v.pubkey, f"genesis.validators[{i}].pubkey")
        committee = _key_list(suite, get_list(m, "committee", "genesis", MAX_COMMITTEE),
                              "genesis.committee")
        roles_obj = m["roles"]
        if not isinstance(roles_obj, Mapping) or len(roles_obj) > MAX_ROLES:
            raise InvalidInput(f"genesis.roles must be a map of at most {MAX_ROLES} roles")
        roles: dict[str, list[bytes]] = {}
        for role, members in roles_obj.items():
            if type(role) is not str or not _NAME.fullmatch(role):
                raise InvalidInput(f"genesis.roles: bad role name {role!r}")
            if type(members) is not list or len(members) > MAX_ROLE_MEMBERS:
                raise InvalidInput(f"genesis.roles.{role} must be an array of public keys")
            roles[role] = _key_list(suite, members, f"genesis.roles.{role}")
        params_obj = m["params"]
        if not isinstance(params_obj, Mapping) or len(params_obj) > MAX_PARAMS:
            raise InvalidInput(f"genesis.params must be a map of at most {MAX_PARAMS} entries")
        params: dict[str, int | str] = {}
        for name, value in params_obj.items():
            if type(name) is not str or not _NAME.fullmatch(name):
                raise InvalidInput(f"genesis.params: bad parameter name {name!r}")
            if type(value) not in (int, str):
                raise InvalidInput(f"genesis.params.{name} must be an integer or text")
            params[name] = value
        demo = m.get("demo", False)
        if type(demo) is not bool:
            raise InvalidInput("genesis.demo must be true or false")
        return cls(chain_id, suite.name, time_ms, validators, committee, roles, params, demo)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonform.to_json(self.to_obj(), jsonform.GENESIS)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> GenesisDoc:
        return cls.from_obj(jsonform.from_json(obj, jsonform.GENESIS, "genesis"))

    @classmethod
    def load(cls, path: str | Path) -> GenesisDoc:
        return cls.from_json(_read_json(path, "genesis file"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


def _check_key(suite: Suite, pubkey: bytes, where: str) -> None:
    try:
        suite.check_pubkey(pubkey)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def _key_list(suite: Suite, items: list[Any], where: str) -> list[bytes]:
    keys: list[bytes] = []
    for i, item in enumerate(items):
        if type(item) is not bytes:
            raise InvalidInput(f"{where}[{i}] must be a public key")
        _check_key(suite, item, f"{where}[{i}]")
        keys.append(item)
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"{where} lists one public key twice")
    return keys


def _read_json(path: str | Path, what: str) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > MAX_GENESIS_FILE_BYTES:
        raise InvalidInput(f"{what} {path} is larger than {MAX_GENESIS_FILE_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{what} {path} is JSON nested too deeply") from None


def state_root_of(suite: Suite, state: Mapping[str, bytes]) -> bytes:
    """The state tree root of a whole state, computed in a throwaway in-memory tree."""
    tree = StateTree(suite, MemoryKV())
    return tree.apply(dict(state), MemoryKV().batch(), 0)


def genesis_header(doc: GenesisDoc, state_root: bytes) -> Header:
    suite = doc.crypto
    vals_hash = validators_hash(suite, doc.validators)
    empty = suite.hash(b"")
    return Header(
        chain_id=doc.chain_id,
        height=0,
        prev_hash=ZERO_HASH,
        time_ms=doc.time_ms,
        view=0,
        proposer=0,
        tx_root=empty,
        receipts_root=empty,
        state_root=state_root,
        validators_hash=vals_hash,
        next_validators_hash=vals_hash,
    )


def genesis_block(doc: GenesisDoc, state: Mapping[str, bytes]) -> Block:
    """The genesis block of ``doc`` whose state is ``state`` (CE-encoded values)."""
    return Block(genesis_header(doc, state_root_of(doc.crypto, state)), ())


def default_state(doc: GenesisDoc) -> dict[str, bytes]:
    """``contracts.genesis.genesis_state(doc)``: imported here, late, because the ledger
    core does not otherwise depend on the contracts."""
    from contracts.genesis import genesis_state

    try:
        state: dict[str, bytes] = genesis_state(doc)
    except ValueError as exc:
        raise InvalidInput(f"genesis document refused by the contracts: {exc}") from None
    return state


def init_store(
    store: BlockStore, doc: GenesisDoc, state: Mapping[str, bytes] | None = None
) -> Block:
    """Create the chain of ``doc`` in an empty ``store``; returns the genesis block.

    ``state`` is the genesis state (default: the contracts' ``genesis_state(doc)``).
    """
    if store.suite.name != doc.suite:
        raise InvalidInput(f"the store uses {store.suite.name}, the genesis {doc.suite}")
    writes = default_state(doc) if state is None else dict(state)
    block = genesis_block(doc, writes)
    store.commit_genesis(block, writes, doc.validators, doc.to_obj())
    return block


# ---- the verifier's anchor ---------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """What a verifier trusts: the genesis header and the set that certifies block 1."""

    suite: Suite
    header: Header
    validators: ValidatorSet

    def genesis_hash(self) -> bytes:
        return self.header.hash(self.suite)

    def to_obj(self) -> dict[str, Any]:
        return {
            "suite": self.suite.name,
            "genesis_header": self.header.to_obj(),
            "validators": validators_to_obj(self.validators),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> Anchor:
        m = exact_map(obj, "anchor", {"suite", "genesis_header", "validators"})
        suite = get_suite(get_str(m, "suite", "anchor", 32))
        return cls.of(suite, Header.from_obj(m["genesis_header"]),
                      validators_from_obj(m["validators"]))

    @classmethod
    def of(cls, suite: Suite, header: Header, validators: ValidatorSet) -> Anchor:
        """Check that ``header`` is a genesis header certified by ``validators``."""
        if header.height != 0 or header.prev_hash != ZERO_HASH:
            raise InvalidInput("anchor header is not a genesis header (height 0, zero prev_hash)")
        if header.validators_hash != validators_hash(suite, validators):
            raise InvalidInput("anchor validators do not hash to the genesis validators_hash")
        for i, v in enumerate(validators):
            _check_key(suite, v.pubkey, f"anchor.validators[{i}].pubkey")
        return cls(suite, header, tuple(validators))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonform.to_json(self.to_obj(), jsonform.ANCHOR)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Anchor:
        return cls.from_obj(jsonform.from_json(obj, jsonform.ANCHOR, "anchor"))

    @classmethod
    def load(cls, path: str | Path) -> Anchor:
        obj = _read_json(path, "anchor file")
        if isinstance(obj, dict) and not {"suite", "genesis_header"} <= obj.keys():
            raise InvalidInput(f"{path} is not an anchor file: an anchor holds suite, "
                               f"genesis_header and validators (the anchor.json of `credchain "
                               f"network init`), this holds {', '.join(sorted(map(str, obj))[:6])}")
        return cls.from_json(obj)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def export_anchor(store: BlockStore) -> Anchor:
    """The anchor of the chain in ``store`` (its genesis header and first validator set)."""
    header = store.header(0)
    if header is None:
        raise LookupError("the store holds no chain yet")
    return Anchor.of(store.suite, header, store.validators_at(0))


__all__ = [
    "Anchor",
    "GenesisDoc",
    "Validator",
    "export_anchor",
    "genesis_block",
    "genesis_header",
    "init_store",
    "state_root_of",
]

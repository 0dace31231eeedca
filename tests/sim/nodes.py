"""What the simulator and the rule-test cluster share: the chain's genesis, keys and nodes.

A simulated node is the node's real machinery on a ``MemoryKV``: ``shell.chain.Chain`` (block
store, state tree, the contracts' ``ChainApp``, the pool) and ``shell.driver.Driver`` around
a real ``Replica``. Only the transport is simulated. The genesis seats ``n`` validators and
lists ``spares`` more keys that start as observers (a governance mix can vote them in); one
client key holds the committee role (a committee of one decides every proposal alone) and
the attestor role, so its transactions are real contract calls that write state:
``identity.attest`` of a fresh entity, and governance proposals.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consensus.api import Effect, ReplicaConfig, TxsAdmitted
from consensus.pool import verify_batch
from contracts.scenario import demo_uscc
from ledger.block import QC, Block, Validator, ValidatorSet
from ledger.crypto import Suite
from ledger.genesis import GenesisDoc
from ledger.kv import MemoryKV
from ledger.store import BlockStore
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.chain import Chain
from shell.driver import Driver, Storage, Transport

CHAIN_ID = "sim-chain"
GENESIS_TIME_MS = 1_700_000_000_000
TICK_MS = 10
DAY_MS = 86_400_000
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def secret_for(suite: Suite, label: str) -> bytes:
    """A deterministic secret key (valid for both suites)."""
    digest = hashlib.sha256(f"sim/{label}".encode()).digest()
    if suite.name == "sm2-sm3":
        return (int.from_bytes(digest, "big") % (_SM2_N - 2) + 1).to_bytes(32, "big")
    return digest


_KEYS: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def key_pair(suite: Suite, label: str) -> tuple[bytes, bytes]:
    """``(secret, public key)`` for ``label``, cached (SM2 key derivation is not free)."""
    if (suite.name, label) not in _KEYS:
        secret = secret_for(suite, label)
        _KEYS[(suite.name, label)] = (secret, suite.public_key(secret))
    return _KEYS[(suite.name, label)]


def validator_keys(suite: Suite, n: int) -> list[tuple[bytes, bytes]]:
    return [key_pair(suite, f"validator-{i}") for i in range(n)]


def genesis(suite: Suite, n: int, params: dict[str, int | str] | None = None) -> GenesisDoc:
    """``n`` validators seated; validator keys ``n, n + 1, ...`` (``validator_keys``) are
    spares: their nodes start as observers until governance seats them. ``params``: chain
    parameters other than their defaults."""
    vals = tuple(Validator(f"v{i}", pk) for i, (_, pk) in enumerate(validator_keys(suite, n)))
    client = key_pair(suite, "client")[1]
    return GenesisDoc(CHAIN_ID, suite.name, GENESIS_TIME_MS, vals, [client],
                      {"attestor": [client]}, dict(params or {}))


class Client:
    """The one client key: numbered transactions with consecutive nonces."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.secret, self.pubkey = key_pair(suite, "client")
        self.nonce = 0

    def _sign(self, call: str, args: dict[str, Any]) -> SignedTx:
        body = TxBody(CHAIN_ID, self.pubkey, self.nonce, call, args)
        self.nonce += 1
        return sign_tx(self.suite, self.secret, body)

    def attest(self, serial: int) -> SignedTx:
        return self._sign("identity.attest", {
            "uscc": demo_uscc(serial), "name": f"entity {serial}", "entity_type": "company",
            "cert_issuer": "sim CA", "cert_serial": str(serial),
            "valid_from_ms": GENESIS_TIME_MS, "valid_to_ms": GENESIS_TIME_MS + 365 * DAY_MS,
            "keys": []})

    def propose(self, action: str, payload: dict[str, Any]) -> SignedTx:
        return self._sign("gov.propose", {"action": action, "payload": payload})


@dataclass
class SimNode:
    """One running node: its chain on a memory KV, the driver around its replica."""

    ident: str
    secret: bytes
    pubkey: bytes
    kv: MemoryKV
    doc: GenesisDoc
    config: ReplicaConfig
    chain: Chain | None = None
    driver: Driver | None = None

    @property
    def up(self) -> bool:
        return self.driver is not None

    def start(self, transport: Transport, wrap: Callable[[Chain], Storage] | None = None,
              log: logging.Logger | None = None) -> None:
        """Open the chain from the KV (as after a restart) and build a fresh replica.
        ``wrap`` puts the caller's storage (fault injection, observation) around the chain."""
        self.chain = Chain.open(self.kv, self.doc)
        replica = self.chain.make_replica(self.secret, self.config, tick_ms=TICK_MS)
        storage = self.chain if wrap is None else wrap(self.chain)
        self.driver = Driver(replica, storage, transport, log=log)

    def stop(self) -> None:
        self.chain = None
        self.driver = None

    def height(self) -> int:
        """The stored head, also while the node is down."""
        if self.chain is not None:
            return self.chain.height()
        return int(BlockStore(self.kv, self.doc.crypto).head()[0])

    def admit(self, txs: list[SignedTx]) -> list[Effect]:
        """Admission as the node does it, synchronously: verify once, pool, nudge the
        replica; returns the effects of that nudge (a leader may propose at once)."""
        assert self.chain is not None and self.driver is not None
        chain = self.chain
        fresh = [tx for tx in txs if chain.pool.precheck(tx, len(tx.encode())) is None]
        admitted = 0
        for tx, ok in zip(fresh, verify_batch(chain.suite, fresh), strict=True):
            if chain.pool.add(tx, len(tx.encode()), ok, now_ms=0) is None:
                chain.sigs.add(tx)
                admitted += 1
        return self.driver.step(TxsAdmitted()) if admitted else []

    def blocks(self, from_height: int, count: int) -> list[tuple[Block, QC]]:
        """What the node serves a FETCH with (``Chain.blocks_from``: nothing below a
        state-synced store's base), decoded as the asker's link does."""
        assert self.chain is not None
        return [(Block.decode(b), QC.decode(q))
                for b, q in self.chain.blocks_from(from_height, count, 1 << 30)]

    def validators(self) -> ValidatorSet:
        assert self.driver is not None
        return self.driver.replica.validators


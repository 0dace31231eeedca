"""What the trading story (``contracts.scenario``) runs on: the client interface, the demo
actors and their keys, the genesis roles and parameters a demo chain needs, the in-process
client, and the hook that submits the validators' beacon transactions.

- ``ScenarioClient``: ``chain_id``, ``suite``, ``submit(tx) -> Receipt`` (waits until
  committed), ``now_ms()`` (the head block's time), ``wait_until(t_ms)``; optionally
  ``nonce_of(pubkey) -> int`` so the story can run again on the same chain.
- The demo genesis: ``scenario_roles(suite)`` (role → keys) and ``SCENARIO_PARAMS``, and it
  must declare itself a demonstration chain (genesis field ``demo: true``): the periods are
  SHORTENED (``demo_day_ms``), which only a demo chain may do.
- ``BeaconHook``: a callable the story calls while a draw waits for the validators' beacon;
  it submits whatever the validators should submit now and returns how many transactions it
  sent. ``validator_beacon_hook(client, read_state, head_height, validator_secrets)`` builds
  one from the validators' secret keys (a demo network directory holds their key files).
  Once the nodes run ``contracts.beacon.beacon_actions`` after each commit, no hook is needed.

The actors' keys are derived from their names: a demonstration, never a production set-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.agents import AGENT_CALLS
from contracts.beacon import beacon_actions
from contracts.bidder import agent_tx
from contracts.genesis import genesis_state
from contracts.registry import default_executor
from contracts.runtime import BlockContext
from contracts.state import DictState
from contracts.uscc import check_char
from ledger import encoding
from ledger.block import Validator
from ledger.crypto import Suite, get_suite
from ledger.genesis import GenesisDoc
from ledger.tx import OK, Receipt, SignedTx, TxBody, sign_tx

DEMO_DAY_MS = 2_000
SCENARIO_PARAMS: dict[str, int | str] = {
    "demo_day_ms": DEMO_DAY_MS,
    "opening_objection_ms": 5_000,
    "decrypt_window_ms": 60_000,
    "evaluation_max_days": 30,  # 30 demo days = 60 s for five members' sheets on a network
}
ROLE_ACTORS = {
    "platform": ["platform"],
    "attestor": ["attestor"],
    "guarantor": ["bank"],
    "supervisor": ["supervisor"],
    "credit_authority": ["bureau"],
    "expert_pool": ["expert-pool"],
    "supermarket_admin": ["market"],
}
VALIDATORS = 4
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


class ScenarioClient(Protocol):
    chain_id: str
    suite: Suite

    def submit(self, tx: SignedTx) -> Receipt: ...  # waits until committed

    def now_ms(self) -> int: ...

    def wait_until(self, t_ms: int) -> None: ...


Printer = Callable[[str], None]
BeaconHook = Callable[[], int]


class ScenarioError(Exception):
    """A step of the story did not end as the story expects."""


def demo_uscc(serial: int) -> str:
    first = f"91441500MA{serial:07d}"
    return first + check_char(first)


def actor_secret(suite: Suite, name: str) -> bytes:
    """A demonstration key from a name (public knowledge: never for real use)."""
    counter = 0
    while True:
        digest = hashlib.sha256(
            f"credchain-scenario/{suite.name}/{name}/{counter}".encode()
        ).digest()
        if suite.name != "sm2-sm3" or 0 < int.from_bytes(digest, "big") < _SM2_N - 1:
            return digest
        counter += 1


def scenario_roles(suite: Suite) -> dict[str, list[bytes]]:
    """The role members a genesis must grant for the story."""
    return {
        role: [suite.public_key(actor_secret(suite, n)) for n in names]
        for role, names in ROLE_ACTORS.items()
    }


def bidder_secret(name: str) -> bytes:
    """A demonstration bidder secret from a name (public knowledge: never for real use)."""
    return hashlib.sha256(f"credchain-scenario/bidder-secret/{name}".encode()).digest()


@dataclass
class _Actor:
    name: str
    secret: bytes
    pubkey: bytes
    nonce: int = 0


def _next_nonce(client: Any, pubkey: bytes, known: Mapping[bytes, int]) -> int:
    nonce = known.get(pubkey)
    if nonce is not None:
        return nonce
    # a client of a live chain may know the account's next nonce (a re-run)
    nonce_of = getattr(client, "nonce_of", None)
    return int(nonce_of(pubkey)) if callable(nonce_of) else 0


class _Story:
    """The actors of the story, each with its key and next nonce, sending transactions."""

    def __init__(self, client: ScenarioClient, printer: Printer, nonces: Mapping[bytes, int]):
        self.client = client
        self.say = printer
        self.suite = client.suite
        self.actors: dict[str, _Actor] = {}
        self.nonces = nonces

    def actor(self, name: str) -> _Actor:
        if name not in self.actors:
            secret = actor_secret(self.suite, name)
            pubkey = self.suite.public_key(secret)
            self.actors[name] = _Actor(name, secret, pubkey, _next_nonce(self.client, pubkey,
                                                                          self.nonces))
        return self.actors[name]

    def send(
        self, who: str, call: str, args: dict[str, Any], expect: str | tuple[str, ...] = OK
    ) -> Receipt:
        actor = self.actor(who)
        if call in AGENT_CALLS:  # a sealed bid call: from a one-time agent the actor authorises
            tx = agent_tx(self.suite, self.client.chain_id, actor.secret, call, args)
        else:
            body = TxBody(self.client.chain_id, actor.pubkey, actor.nonce, call, args)
            actor.nonce += 1
            tx = sign_tx(self.suite, actor.secret, body)
        receipt = self.client.submit(tx)
        wanted = (expect,) if isinstance(expect, str) else expect
        if receipt.code not in wanted:
            raise ScenarioError(
                f"{who} {call}: expected {' or '.join(wanted)}, got {receipt.code} "
                f"{receipt.message}"
            )
        return receipt


def validator_beacon_hook(
    client: ScenarioClient,
    read_state: Callable[[str], Any],
    head_height: Callable[[], int],
    validator_secrets: Sequence[bytes],
) -> BeaconHook:
    """A hook that acts as the validators: for each secret, the transactions
    ``beacon_actions`` asks for at the head (``head_height()``, ``client.now_ms()``), signed
    and submitted through the client. ``read_state(key)`` returns a head state value
    decoded (None when absent)."""
    suite = client.suite
    nonces: dict[bytes, int] = {}

    def hook() -> int:
        sent = 0
        for secret in validator_secrets:
            pubkey = suite.public_key(secret)
            actions = beacon_actions(
                read_state, client.chain_id, suite, pubkey, secret, head_height(), client.now_ms()
            )
            for call, args in actions:
                nonce = _next_nonce(client, pubkey, nonces)
                nonces[pubkey] = nonce + 1
                body = TxBody(client.chain_id, pubkey, nonce, call, args)
                client.submit(sign_tx(suite, secret, body))
                sent += 1
        return sent

    return hook


class InProcessClient:
    """One executor over an in-memory state; each submit is one block at a synthetic time.
    Its demo validators' keys are known, so ``validator_hook()`` can play them."""

    def __init__(self, suite_name: str = "ed25519-sha256", start_ms: int = 1_709_254_800_000):
        self.suite = get_suite(suite_name)
        self.chain_id = "demo-chain"
        self.validator_secrets = [
            actor_secret(self.suite, f"v{i}") for i in range(VALIDATORS)
        ]
        validators = tuple(
            Validator(f"v{i}", self.suite.public_key(s))
            for i, s in enumerate(self.validator_secrets)
        )
        doc = GenesisDoc(
            chain_id=self.chain_id,
            suite=suite_name,
            time_ms=start_ms,
            validators=validators,
            committee=[self.suite.public_key(actor_secret(self.suite, "c0"))],
            roles=scenario_roles(self.suite),
            params=dict(SCENARIO_PARAMS),
            demo=True,
        )
        self.state = DictState(genesis_state(doc))
        self.executor = default_executor()
        self.height = 0
        self.time_ms = start_ms
        self.block_interval_ms = 500

    def submit(self, tx: SignedTx) -> Receipt:
        self.height += 1
        self.time_ms += self.block_interval_ms
        ctx = BlockContext(self.chain_id, self.suite, self.height, self.time_ms)
        result = self.executor.execute_block(self.state, ctx, [tx])
        self.state.apply(result.writes)
        return result.receipts[0]

    def now_ms(self) -> int:
        return self.time_ms

    def wait_until(self, t_ms: int) -> None:
        self.time_ms = max(self.time_ms, t_ms)

    def get(self, key: str) -> Any:
        raw = self.state.get(key)
        return None if raw is None else encoding.decode(raw)

    def nonce_of(self, pubkey: bytes) -> int:
        raw = self.state.get(f"nonce/{pubkey.hex()}")
        return 0 if raw is None else int(encoding.decode(raw))

    def validator_hook(self) -> BeaconHook:
        return validator_beacon_hook(self, self.get, lambda: self.height, self.validator_secrets)

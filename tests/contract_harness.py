"""A test harness for contracts: a genesis state, accounts, and blocks of signed transactions
run through the real Executor with synthetic block times.

    h = Harness()                                   # 4 validators, committee c0..c2, ed25519
    alice = h.account("alice")                      # deterministic keys from the name
    h.grant("attestor", alice)                      # role written directly (set-up only)
    r = h.call(alice, "identity.attest", {...})     # one transaction, one block
    h.expect_ok(alice, "identity.attest", {...})    # ... and assert it succeeded
    h.expect_refused(alice, "credit.record", {...}, "E_FORBIDDEN")
        # asserts the code AND that nothing but the sender's nonce changed
    h.run_block([h.tx(a, call, args), ...], at_ms=...)  # several transactions in one block
    h.govern("set_param", {"name": "min_validators", "value": 5})  # proposal + votes
    h.get("param/min_validators"); h.root(); h.advance(days=3)

Set-up helpers (``grant``, ``put``) write state directly, outside any transaction, so a test
can start from the situation it is about without replaying governance each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import keys
from contracts.agents import AGENT_CALLS
from contracts.bidder import agent_tx
from contracts.genesis import genesis_state
from contracts.periods import DAY_MS, ms_of_beijing
from contracts.registry import default_executor
from contracts.runtime import BlockContext, BlockResult, Executor
from contracts.state import DictState
from ledger import encoding
from ledger.block import Validator
from ledger.crypto import Suite, get_suite
from ledger.genesis import GenesisDoc
from ledger.tx import OK, Receipt, SignedTx, TxBody, sign_tx

CHAIN_ID = "test-chain"
GENESIS_MS = ms_of_beijing(2024, 3, 1, 9, 0)  # 2024-03-01 09:00 Beijing time
BLOCK_INTERVAL_MS = 1000
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


@dataclass(frozen=True)
class Account:
    name: str
    secret: bytes
    pubkey: bytes

    @property
    def hex(self) -> str:
        return self.pubkey.hex()


def _secret_for(suite: Suite, name: str) -> bytes:
    """A deterministic secret from a name, valid for the suite (tests only)."""
    counter = 0
    while True:
        digest = hashlib.sha256(f"credchain-test/{suite.name}/{name}/{counter}".encode()).digest()
        if suite.name != "sm2-sm3" or 0 < int.from_bytes(digest, "big") < _SM2_N - 1:
            return digest
        counter += 1


class Harness:
    def __init__(
        self,
        suite_name: str = "ed25519-sha256",
        params: Mapping[str, int | str] | None = None,
        committee_size: int = 3,
        validator_count: int = 4,
        roles: Mapping[str, Sequence[str]] | None = None,
        executor: Executor | None = None,
        genesis_ms: int = GENESIS_MS,
        demo: bool = False,
    ) -> None:
        """``roles`` maps a role to account names granted it at genesis; ``demo`` makes a
        demonstration chain (demo days allowed)."""
        self.suite = get_suite(suite_name)
        self.chain_id = CHAIN_ID
        self.executor = executor or default_executor()
        self._accounts: dict[str, Account] = {}
        self.validators = tuple(
            Validator(f"v{i}", self.account(f"v{i}").pubkey) for i in range(validator_count)
        )
        self.committee = [self.account(f"c{i}") for i in range(committee_size)]
        self.doc = GenesisDoc(
            chain_id=self.chain_id,
            suite=suite_name,
            time_ms=genesis_ms,
            validators=self.validators,
            committee=[c.pubkey for c in self.committee],
            roles={
                r: [self.account(n).pubkey for n in names] for r, names in (roles or {}).items()
            },
            params=dict(params or {}),
            demo=demo,
        )
        self.state = DictState(genesis_state(self.doc))
        self.height = 0
        self.time_ms = genesis_ms
        self.receipts: list[Receipt] = []
        self._pending_nonce: dict[bytes, int] = {}
        self._agents = 0  # one-time agent keys made so far (``tx``)

    # --- accounts and direct set-up ---

    def account(self, name: str) -> Account:
        acct = self._accounts.get(name)
        if acct is None:
            secret = _secret_for(self.suite, name)
            acct = Account(name, secret, self.suite.public_key(secret))
            self._accounts[name] = acct
        return acct

    def grant(self, role: str, *accounts: Account) -> None:
        for acct in accounts:
            self.put(keys.role(role, acct.pubkey), {"granted_height": self.height})

    def put(self, key: str, value: Any) -> None:
        self.state.values[key] = encoding.encode(value)

    # --- transactions and blocks ---

    def nonce_of(self, acct: Account) -> int:
        return self.nonce_of_key(acct.pubkey)

    def nonce_of_key(self, pubkey: bytes) -> int:
        raw = self.state.get(keys.nonce(pubkey))
        value = encoding.decode(raw) if raw is not None else 0
        assert isinstance(value, int)
        return value

    def tx(
        self, acct: Account, call: str, args: Mapping[str, Any], nonce: int | None = None,
        direct: bool = False,
    ) -> SignedTx:
        """A signed transaction; nonces count on from the state and earlier unrun ``tx``s.
        A sealed bid call (``contracts.agents.AGENT_CALLS``) goes, as the bidder's tool sends
        it, from a fresh one-time agent key ``acct`` authorises, unless ``direct`` or the
        arguments already carry an authorisation."""
        if call in AGENT_CALLS and not direct and "bidder_key" not in args:
            self._agents += 1
            agent = _secret_for(self.suite, f"agent/{self._agents}")
            return agent_tx(self.suite, self.chain_id, acct.secret, call, args, agent)
        if nonce is None:
            nonce = self._pending_nonce.get(acct.pubkey, self.nonce_of(acct))
            self._pending_nonce[acct.pubkey] = nonce + 1
        body = TxBody(self.chain_id, acct.pubkey, nonce, call, dict(args))
        return sign_tx(self.suite, acct.secret, body)

    def context(self, at_ms: int | None = None) -> BlockContext:
        time_ms = self.time_ms + BLOCK_INTERVAL_MS if at_ms is None else at_ms
        return BlockContext(self.chain_id, self.suite, self.height + 1, time_ms)

    def run_block(self, txs: Sequence[SignedTx], at_ms: int | None = None) -> list[Receipt]:
        """Execute one block (default time: one interval after the last) and apply it."""
        ctx = self.context(at_ms)
        if ctx.time_ms <= self.time_ms:
            raise ValueError("block times must increase")
        result: BlockResult = self.executor.execute_block(self.state, ctx, txs)
        self.state.apply(result.writes)
        self.height, self.time_ms = ctx.height, ctx.time_ms
        self._pending_nonce.clear()
        self.receipts.extend(result.receipts)
        return result.receipts

    def call(
        self, acct: Account, call: str, args: Mapping[str, Any], at_ms: int | None = None
    ) -> Receipt:
        return self.run_block([self.tx(acct, call, args)], at_ms)[0]

    def expect_ok(
        self, acct: Account, call: str, args: Mapping[str, Any], at_ms: int | None = None
    ) -> Receipt:
        receipt = self.call(acct, call, args, at_ms)
        assert receipt.code == OK, f"{call} refused: {receipt.code} {receipt.message}"
        return receipt

    def expect_refused(
        self,
        acct: Account,
        call: str,
        args: Mapping[str, Any],
        code: str,
        at_ms: int | None = None,
    ) -> Receipt:
        """Assert the call is refused with ``code`` and changes nothing but the nonce."""
        before = dict(self.state.values)
        tx = self.tx(acct, call, args)
        nonce_key = keys.nonce(tx.body.sender)  # the account's, or its one-time agent's
        nonce_before = self.nonce_of_key(tx.body.sender)
        receipt = self.run_block([tx], at_ms)[0]
        assert receipt.code == code, (
            f"{call}: expected {code}, got {receipt.code} {receipt.message}"
        )
        assert self.nonce_of_key(tx.body.sender) == nonce_before + 1
        after = dict(self.state.values)
        after.pop(nonce_key)
        before.pop(nonce_key, None)
        assert after == before, f"{call} refused but changed {sorted(_diff(before, after))}"
        return receipt

    def govern(self, action: str, payload: Mapping[str, Any]) -> int:
        """Run a governance action through a proposal and committee votes until it executes;
        returns the proposal id."""
        proposer, *voters = self.committee
        receipt = self.expect_ok(proposer, "gov.propose", {"action": action, "payload": payload})
        proposal_id = int(receipt.events[0]["id"])
        for voter in voters:
            if self.get(f"gov/proposal/{proposal_id}")["status"] != "open":
                break
            self.expect_ok(voter, "gov.vote", {"id": proposal_id, "approve": True})
        assert self.get(f"gov/proposal/{proposal_id}")["status"] == "executed"
        return proposal_id

    # --- time ---

    def advance(self, days: int = 0, ms: int = 0) -> None:
        """Move the clock on without a block (the next block runs at the new time + 1 interval)."""
        self.time_ms += days * DAY_MS + ms

    # --- reading state ---

    def get(self, key: str) -> Any:
        raw = self.state.get(key)
        return None if raw is None else encoding.decode(raw)

    def root(self) -> bytes:
        """A digest of the whole state (a plain dict hash, not the SMT root: tests only)."""
        return self.suite.hash(encoding.encode(dict(sorted(self.state.values.items()))))

    def root_without_nonces(self) -> bytes:
        kept = {k: v for k, v in self.state.values.items() if not k.startswith("nonce/")}
        return self.suite.hash(encoding.encode(kept))


def _diff(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def ok(receipt: Receipt) -> bool:
    return receipt.code == OK

"""One-time agent keys: a bidder's sealed calls are sent by a key nobody can tie to it.

Every transaction moves its sender's nonce record (``nonce/<key>``), and a PROTOCOL §6 proof
of absence shows a neighbouring leaf's value hash: had an enterprise sent its bid from its
own key, whoever grinds a key next to that key's nonce path would see it move in the bid's
block. So the calls made while bids are sealed (``AGENT_CALLS``: submit, replace,
withdraw) are sent by a fresh *agent* key, used once (nonce 0), which one of the entity's
bound keys authorises in the arguments::

    bidder_key        the entity's bound key (attestation in force)
    bidder_signature  its signature over Hd(0x67, CE({"chain_id", "tender_id", "lot",
                      "call", "agent"}))     agent = the transaction's sender

The agent's nonce record is a new leaf at a path nobody can compute, so the bid moves no
state key derived from the entity. The authorisation names the call, tender and lot, so an
agent acts once, for that. These transactions carry the bidder secret too, so they stay with
the bidder and supervisors (``contracts.disclosure`` finds their entity through
``bidder_key``).

An agent key is unknown to the chain (``contracts.senders``): ``authorised_agent`` is the
admission, proposal and block check that lets an authorised one in, and the bid contract
checks the same authorisation when the call runs (``contracts.bid``). ``acting_key`` is the
key such a call acts for (disclosure and the audit export attribute it by that key). Each
check verifies a signature; the results are remembered (a bounded cache: the verdict of a
signature over given bytes never changes), so a node verifies an authorisation about once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from contracts.governance import is_frozen
from contracts.identity import entity_of_key
from contracts.senders import sender_known
from contracts.state import Overlay, StateReader, reading_view
from ledger import encoding, tags
from ledger.crypto import Suite
from ledger.tx import SignedTx

AGENT_CALLS = frozenset({"bid.submit", "bid.replace", "bid.withdraw"})
KEY_MAX = 128  # bytes: an Ed25519 or SM2 public key, with room
SIGNATURE_MAX = 160
_VERDICTS_MAX = 8_192
SENDERS_REMEMBERED = 65_536  # answers a ``SenderCheck`` keeps, per sender key
_verdicts: OrderedDict[tuple[str, str, str, bytes, str, int, bytes, bytes], bool] = (
    OrderedDict())
_verified_count = [0]  # signatures verified in this process (not answered from the cache)


def verifications() -> int:
    """Authorisation signatures this process has verified (for tests and benchmarks: never a
    node metric, which would count the sealed bid calls)."""
    return _verified_count[0]


def agent_message(suite: Suite, chain_id: str, tender_id: str, lot: int, call: str,
                  agent: bytes) -> bytes:
    """What the entity's key signs to let ``agent`` send ``call`` on the tender lot."""
    body = {"chain_id": chain_id, "tender_id": tender_id, "lot": lot, "call": call,
            "agent": agent}
    return suite.hd(tags.BID_AGENT, encoding.encode(body))


def authorisation(suite: Suite, chain_id: str, entity_secret: bytes, tender_id: str, lot: int,
                  call: str, agent: bytes) -> dict[str, bytes]:
    """The ``bidder_key`` / ``bidder_signature`` arguments (the bidder's tool signs them)."""
    message = agent_message(suite, chain_id, tender_id, lot, call, agent)
    return {"bidder_key": suite.public_key(entity_secret),
            "bidder_signature": suite.sign(entity_secret, message)}


def _verified(suite: Suite, chain_id: str, call: str, agent: bytes, tender_id: str, lot: int,
              key: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over this authorisation (``agent_message``). The
    verdict is remembered by the fields the message is made of, so a repeated question
    (admission, the proposal or block check, and the call itself ask about each bid) does
    not encode and hash the message again."""
    memo = (suite.name, chain_id, call, agent, tender_id, lot, key, signature)
    verdict = _verdicts.get(memo)
    if verdict is None:
        message = agent_message(suite, chain_id, tender_id, lot, call, agent)
        try:
            verdict = bool(suite.verify(key, message, signature))
        except (ValueError, TypeError):
            verdict = False
        _verified_count[0] += 1
        _verdicts[memo] = verdict
        if len(_verdicts) > _VERDICTS_MAX:
            _verdicts.popitem(last=False)
    return verdict


def claimed_entity_key(args: Any) -> bytes | None:
    """The ``bidder_key`` an agent's arguments name, if well formed (not yet checked)."""
    if not isinstance(args, Mapping):
        return None
    key = args.get("bidder_key")
    return key if type(key) is bytes and 0 < len(key) <= KEY_MAX else None


def authorising_entity(state: StateReader | Overlay, suite: Suite, chain_id: str, call: str,
                       agent: bytes, args: Mapping[str, Any], now_ms: int) -> str | None:
    """The entity whose bound key authorised ``agent`` to send ``call`` with ``args``, or
    None: not an agent call, malformed, a key bound to no entity in force, a frozen key or
    entity, or a signature that does not verify."""
    if call not in AGENT_CALLS:
        return None
    key = claimed_entity_key(args)
    if key is None:
        return None
    uscc = _unfrozen_entity(reading_view(state), key, now_ms)
    if uscc is None:
        return None
    return uscc if signature_authorises(suite, chain_id, call, agent, args, key) else None


def _unfrozen_entity(view: Overlay, key: bytes, now_ms: int) -> str | None:
    """The entity whose attestation in force binds ``key``, neither frozen; else None."""
    uscc = entity_of_key(view, key, now_ms)
    if uscc is None or is_frozen(view, key.hex()) or is_frozen(view, uscc):
        return None
    return uscc


def signature_authorises(suite: Suite, chain_id: str, call: str, agent: bytes,
                         args: Mapping[str, Any], key: bytes) -> bool:
    """Whether ``args``' ``bidder_signature`` is ``key``'s over this agent, call, tender and
    lot (the signature alone: whose key it is, the caller checks)."""
    signature, tender_id, lot = (args.get("bidder_signature"), args.get("tender_id"),
                                 args.get("lot"))
    if type(signature) is not bytes or len(signature) > SIGNATURE_MAX:
        return False
    if type(tender_id) is not str or type(lot) is not int or not 0 < lot <= 0xFFFF:
        return False
    return _verified(suite, chain_id, call, agent, tender_id, lot, key, signature)


def agent_entity_key(tx: SignedTx) -> bytes | None:
    """The entity key ``tx`` names if it claims to come from an agent (a sealed bid call
    naming an entity key other than its sender's), else None."""
    body = tx.body
    if body.call not in AGENT_CALLS:
        return None
    key = claimed_entity_key(body.args)
    return key if key is not None and key != body.sender else None


def is_agent_call(tx: SignedTx) -> bool:
    """Whether ``tx`` claims to come from an agent (checked by ``authorised_agent``, not by
    ``sender_known``)."""
    return agent_entity_key(tx) is not None


def acting_key(tx: SignedTx) -> bytes:
    """The key a transaction acts for: the entity key an agent's call names (a block holds
    an agent call only if that key authorised it), else its sender."""
    return agent_entity_key(tx) or tx.body.sender


def authorised_agent(state: StateReader | Overlay, suite: Suite, chain_id: str, tx: SignedTx,
                     now_ms: int) -> bool:
    """Whether ``tx`` comes from an agent key an entity authorised (the permissioned
    chain's door for keys it does not know)."""
    body = tx.body
    return authorising_entity(state, suite, chain_id, body.call, body.sender, body.args,
                              now_ms) is not None


class SenderCheck:
    """Whether transactions' senders may send, judged on one committed ``state`` at one
    block time: a key the chain knows (``contracts.senders.sender_known``, answered once
    per sender) or a one-time agent an entity authorised (``authorised_agent``). One check
    serves a batch's admission or a block's proposal or validation: the records its
    answers read (key bindings, attestations, the validator set) are decoded once for all
    its transactions (one ``Overlay`` memo, checked against the bytes read each time)."""

    def __init__(self, state: StateReader, suite: Suite, chain_id: str, now_ms: int) -> None:
        self._view = Overlay(state)
        self._suite, self._chain_id, self._now_ms = suite, chain_id, now_ms
        self._known: dict[bytes, bool] = {}
        # Per entity key an agent call names: its entity, in force and unfrozen, or None
        # (a bidder's five bids on a tender's lots name one key).
        self._entities: dict[bytes, str | None] = {}

    def __call__(self, tx: SignedTx) -> bool:
        body = tx.body
        key = agent_entity_key(tx)
        if key is not None:
            return self._authorised(body.call, body.sender, body.args, key)
        sender = body.sender
        known = self._known.get(sender)
        if known is None:
            if len(self._known) >= SENDERS_REMEMBERED:  # (a flood of strangers' keys)
                self._known.clear()
            known = self._known[sender] = sender_known(self._view, sender, self._now_ms)
        return known

    def _authorised(self, call: str, agent: bytes, args: Mapping[str, Any], key: bytes) -> bool:
        """``authorised_agent``, with the entity key's answer kept for the check's life."""
        if key in self._entities:
            uscc = self._entities[key]
        else:
            if len(self._entities) >= SENDERS_REMEMBERED:
                self._entities.clear()
            uscc = self._entities[key] = _unfrozen_entity(self._view, key, self._now_ms)
        return uscc is not None and signature_authorises(self._suite, self._chain_id, call,
                                                         agent, args, key)

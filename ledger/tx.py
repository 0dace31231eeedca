"""Transactions and receipts (PROTOCOL §3; receipts hash with tag 0x22).

A signed transaction is ``{"body": BODY, "sig": bin}``; ``tx_id = Hd(0x20, CE(BODY))`` does
not cover the signature. Version 1 bodies carry exactly the five fields of PROTOCOL §3; no
optional fields are defined yet, and a body with any other field is refused.

Decoding a transaction enforces the canonical-data limits of ``ledger.limits``:
``SignedTx.decode`` refuses more than ``MAX_TX_BYTES`` or ``TX_DEPTH`` levels before
building anything, and ``from_obj`` (which ``decode`` uses, and so does a block or a JSON
document) refuses ``args`` outside ``check_args`` (nesting, item counts, key, text and
byte-string lengths, CE types only). So every transaction that decodes can be encoded
again, and any block of them stays within the block decoder's limits. (The size of a
transaction built by ``from_obj`` is the pool's to check, on its encoding.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ledger import encoding, tags
from ledger.crypto import SIG_LEN, Suite
from ledger.errors import EncodingError, InvalidInput
from ledger.fields import exact_map, get_bytes, get_int, get_str
from ledger.limits import MAX_ARGS_DEPTH, TX_DEPTH, check_args
from ledger.limits import MAX_TX_BYTES as MAX_TX_BYTES  # re-exported: the bound lives there

MAX_CALL_LEN = 64
_BODY_FIELDS = {"chain_id", "sender", "nonce", "call", "args"}
_MAX_CHAIN_ID_LEN = 256
_MAX_SENDER_LEN = 65
_TX_FIELDS = {"body", "sig"}


@dataclass(frozen=True)
class TxBody:
    chain_id: str
    sender: bytes
    nonce: int
    call: str
    args: dict[str, Any]

    def to_obj(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender,
            "nonce": self.nonce,
            "call": self.call,
            "args": self.args,
        }

    @classmethod
    def from_obj(cls, obj: Any) -> TxBody:
        if type(obj) is dict and obj.keys() == _BODY_FIELDS:
            # The common, valid case in one pass (every node decodes every transaction);
            # anything else takes the field-by-field path below, which says what failed.
            chain_id, sender, nonce = obj["chain_id"], obj["sender"], obj["nonce"]
            call, args = obj["call"], obj["args"]
            if (type(chain_id) is str and len(chain_id) <= _MAX_CHAIN_ID_LEN
                    and type(sender) is bytes and len(sender) <= _MAX_SENDER_LEN
                    and type(nonce) is int and nonce >= 0
                    and type(call) is str and len(call) <= MAX_CALL_LEN and call.count(".") == 1
                    and type(args) is dict):
                check_args(args)
                return cls(chain_id, sender, nonce, call, args)
        m = exact_map(obj, "tx body", _BODY_FIELDS)
        args = m["args"]
        check_args(args)
        call = get_str(m, "call", "tx body", MAX_CALL_LEN)
        if call.count(".") != 1:
            raise InvalidInput(f"tx body.call must be 'contract.method', got {call!r}")
        return cls(
            chain_id=get_str(m, "chain_id", "tx body", _MAX_CHAIN_ID_LEN),
            sender=get_bytes(m, "sender", "tx body", max_len=_MAX_SENDER_LEN),
            nonce=get_int(m, "nonce", "tx body"),
            call=call,
            args=args,
        )

    @cached_property
    def encoded(self) -> bytes:
        return encoding.encode(self.to_obj())

    def signing_bytes(self) -> bytes:
        return bytes((tags.TX_SIGN,)) + self.encoded


# CE of a signed transaction is {"body": BODY, "sig": bin64}: keys sorted, so its bytes are
# fixmap(2) "body" BODY "sig" bin8(64) SIG, and BODY's canonical encoding is a slice of them.
_TX_HEAD = b"\x82\xa4body"
_TX_SIG_MARK = b"\xa3sig\xc4\x40"
_TX_TAIL_LEN = len(_TX_SIG_MARK) + SIG_LEN


@dataclass(frozen=True)
class SignedTx:
    body: TxBody
    sig: bytes
    _ids: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    # The canonical encoding once known (from ``decode`` or the first ``encode``): a
    # transaction is encoded for gossip, batch sizing, blocks and the store.
    _wire: list[bytes] = field(default_factory=list, compare=False, repr=False)

    def tx_id(self, suite: Suite) -> bytes:
        cached = self._ids.get(suite.name)
        if cached is None:
            cached = self._ids[suite.name] = suite.hd(tags.TX_ID, self.body.encoded)
        return cached

    def remember_id(self, suite: Suite, tx_id: bytes) -> None:
        """Record ``tx_id`` as this transaction's id under ``suite``, computed by a caller
        from the very bytes it was decoded from (``wire_tx_id``)."""
        self._ids[suite.name] = tx_id

    def verify_signature(self, suite: Suite) -> bool:
        return suite.verify(self.body.sender, self.body.signing_bytes(), self.sig)

    def to_obj(self) -> dict[str, Any]:
        return {"body": self.body.to_obj(), "sig": self.sig}

    @classmethod
    def from_obj(cls, obj: Any) -> SignedTx:
        if type(obj) is dict and obj.keys() == _TX_FIELDS:
            sig = obj["sig"]
            if type(sig) is bytes and len(sig) == SIG_LEN:
                return cls(TxBody.from_obj(obj["body"]), sig)
        m = exact_map(obj, "transaction", _TX_FIELDS)
        return cls(body=TxBody.from_obj(m["body"]), sig=get_bytes(m, "sig", "transaction", SIG_LEN))

    def encode(self) -> bytes:
        if not self._wire:
            self._wire.append(encoding.encode(self.to_obj()))
        return self._wire[0]

    @classmethod
    def decode(cls, data: bytes) -> SignedTx:
        """Strict decode (canonical form checked once). The transaction keeps ``data`` as its
        encoding and the body's canonical bytes, a slice of it, so neither ``encode`` nor
        ``tx_id`` encodes again."""
        try:
            obj = encoding.decode(data, MAX_TX_BYTES, TX_DEPTH)
        except encoding.TooDeep:
            raise EncodingError(f"transaction nested deeper than {TX_DEPTH} levels: its "
                                f"args may nest at most {MAX_ARGS_DEPTH}") from None
        tx = cls.from_obj(obj)
        data = bytes(data)
        tx._wire.append(data)
        if data[: len(_TX_HEAD)] == _TX_HEAD and data[-_TX_TAIL_LEN:-SIG_LEN] == _TX_SIG_MARK:
            # ``TxBody.encoded`` is a cached_property: its cache is the instance __dict__.
            tx.body.__dict__["encoded"] = data[len(_TX_HEAD) : -_TX_TAIL_LEN]
        return tx


def wire_tx_id(suite: Suite, data: bytes) -> bytes | None:
    """The id of the signed transaction ``data`` is laid out as (``CE(BODY)`` is a slice of
    a signed transaction's CE), read off the bytes without decoding them; None when ``data``
    is not laid out as one. Not a check: ``data`` may still fail to decode, but a
    transaction known under this id has exactly this body (the id is its body's hash)."""
    if (len(data) <= len(_TX_HEAD) + _TX_TAIL_LEN or data[: len(_TX_HEAD)] != _TX_HEAD
            or data[-_TX_TAIL_LEN:-SIG_LEN] != _TX_SIG_MARK):
        return None
    return suite.hd(tags.TX_ID, data[len(_TX_HEAD) : -_TX_TAIL_LEN])


def sign_tx(suite: Suite, secret: bytes, body: TxBody) -> SignedTx:
    return SignedTx(body=body, sig=suite.sign(secret, body.signing_bytes()))


# Receipt codes are stable strings; contracts define their own error codes (E_...).
OK = "OK"


@dataclass(frozen=True)
class Receipt:
    """The outcome of one transaction. ``code`` is ``"OK"`` or a stable error code;
    ``events`` are small maps the contracts emit (indexed by the node, hashed here)."""

    tx_id: bytes
    code: str
    message: str = ""
    events: tuple[dict[str, Any], ...] = ()
    # suite name -> hash, and the encoding: a receipt is hashed on execution and again for
    # the store's receipts_root check, and encoded into the block's receipts record.
    _hashes: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _wire: list[bytes] = field(default_factory=list, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.code == OK

    def to_obj(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id,
            "code": self.code,
            "message": self.message,
            "events": list(self.events),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> Receipt:
        m = exact_map(obj, "receipt", {"tx_id", "code", "message", "events"})
        events = m["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise InvalidInput("receipt.events must be an array of maps")
        return cls(
            tx_id=get_bytes(m, "tx_id", "receipt", 32),
            code=get_str(m, "code", "receipt", 64),
            message=get_str(m, "message", "receipt", 4096),
            events=tuple(events),
        )

    def encode(self) -> bytes:
        if not self._wire:
            self._wire.append(encoding.encode(self.to_obj()))
        return self._wire[0]

    def hash(self, suite: Suite) -> bytes:
        cached = self._hashes.get(suite.name)
        if cached is None:
            cached = self._hashes[suite.name] = suite.hd(tags.RECEIPT, self.encode())
        return cached

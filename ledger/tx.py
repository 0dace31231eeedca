"""Transactions and receipts (PROTOCOL §3; receipts hash with tag 0x22).

A signed transaction is ``{"body": BODY, "sig": bin}``; ``tx_id = Hd(0x20, CE(BODY))`` does
not cover the signature. Version 1 bodies carry exactly the five fields of PROTOCOL §3; no
optional fields are defined yet, and a body with any other field is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ledger import encoding, tags
from ledger.crypto import SIG_LEN, Suite
from ledger.errors import InvalidInput
from ledger.fields import exact_map, get_bytes, get_int, get_str

MAX_TX_BYTES = 64 * 1024
MAX_CALL_LEN = 64
_BODY_FIELDS = {"chain_id", "sender", "nonce", "call", "args"}


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
        m = exact_map(obj, "tx body", _BODY_FIELDS)
        args = m["args"]
        if not isinstance(args, dict):
            raise InvalidInput("tx body.args must be a map")
        call = get_str(m, "call", "tx body", MAX_CALL_LEN)
        if call.count(".") != 1:
            raise InvalidInput(f"tx body.call must be 'contract.method', got {call!r}")
        return cls(
            chain_id=get_str(m, "chain_id", "tx body"),
            sender=get_bytes(m, "sender", "tx body", max_len=65),
            nonce=get_int(m, "nonce", "tx body"),
            call=call,
            args=args,
        )

    @cached_property
    def encoded(self) -> bytes:
        return encoding.encode(self.to_obj())

    def signing_bytes(self) -> bytes:
        return bytes((tags.TX_SIGN,)) + self.encoded


@dataclass(frozen=True)
class SignedTx:
    body: TxBody
    sig: bytes
    _ids: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def tx_id(self, suite: Suite) -> bytes:
        cached = self._ids.get(suite.name)
        if cached is None:
            cached = self._ids[suite.name] = suite.hd(tags.TX_ID, self.body.encoded)
        return cached

    def verify_signature(self, suite: Suite) -> bool:
        return suite.verify(self.body.sender, self.body.signing_bytes(), self.sig)

    def to_obj(self) -> dict[str, Any]:
        return {"body": self.body.to_obj(), "sig": self.sig}

    @classmethod
    def from_obj(cls, obj: Any) -> SignedTx:
        m = exact_map(obj, "transaction", {"body", "sig"})
        return cls(body=TxBody.from_obj(m["body"]), sig=get_bytes(m, "sig", "transaction", SIG_LEN))

    def encode(self) -> bytes:
        return encoding.encode(self.to_obj())

    @classmethod
    def decode(cls, data: bytes) -> SignedTx:
        return cls.from_obj(encoding.decode(data, MAX_TX_BYTES))


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

    def hash(self, suite: Suite) -> bytes:
        return suite.hd(tags.RECEIPT, encoding.encode(self.to_obj()))

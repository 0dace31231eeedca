"""The sealed-bid rule as the API asks it (``contracts.disclosure``), on a plain state."""

from __future__ import annotations

from contracts.disclosure import sealed_key_reason, sealed_tx_reason
from ledger import encoding
from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.tx import SignedTx, TxBody, sign_tx

NOW_MS = 1_760_000_000_000
CLIENT = bytes(range(1, 33))


class State:
    def __init__(self, values: dict[str, object]) -> None:
        self.raw = {k: encoding.encode(v) for k, v in values.items()}

    def get(self, key: str) -> bytes | None:
        return self.raw.get(key)


STATE = State({"tender/OPEN": {"tender_id": "OPEN", "deadline_ms": NOW_MS + 3_600_000},
               "tender/DONE": {"tender_id": "DONE", "deadline_ms": NOW_MS - 1}})


def test_sealed_bid_keys_follow_the_tender_deadline() -> None:
    assert sealed_key_reason(STATE, "bid/OPEN/1/ab", NOW_MS) is not None
    assert sealed_key_reason(STATE, "bidset/OPEN/1", NOW_MS) is not None
    assert sealed_key_reason(STATE, "bid/NOPE/1/ab", NOW_MS) is not None  # unknown: refused
    assert sealed_key_reason(STATE, "bid/DONE/1/ab", NOW_MS) is None
    assert sealed_key_reason(STATE, "tender/OPEN", NOW_MS) is None
    assert sealed_key_reason(STATE, "bid/OPEN/1/ab", NOW_MS + 3_600_000) is None


def bid_tx(tender_id: str, call: str = "bid.submit") -> SignedTx:
    body = TxBody("c", SUITE.public_key(CLIENT), 0, call, {"tender_id": tender_id})
    return sign_tx(SUITE, CLIENT, body)


def test_blocks_with_bid_transactions_follow_the_tender_deadline() -> None:
    assert sealed_tx_reason(STATE, bid_tx("OPEN"), NOW_MS) is not None
    assert sealed_tx_reason(STATE, bid_tx("DONE"), NOW_MS) is None
    assert sealed_tx_reason(STATE, bid_tx("NOPE"), NOW_MS) is None  # the call failed
    assert sealed_tx_reason(STATE, bid_tx("OPEN", "tender.amend"), NOW_MS) is None

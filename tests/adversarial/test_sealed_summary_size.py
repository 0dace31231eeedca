"""Attack: reading a price off a sealed summary's length (review finding 8, sealed bids).

Before: the sealed summary was the AEAD of the summary's CE bytes as they were, so a price
at or above 2**32 fen (a uint64 instead of a uint32) made it 4 bytes longer, and anyone
who saw the bid transaction learned something about the price before the opening. Now
the plaintext is padded to a fixed 4,096 bytes: every sealed summary of a chain has one
length, the contract still decrypts and checks it on chain, and a malformed padding is
refused like a wrong key.
"""

from __future__ import annotations

import pytest
from nacl import bindings as sodium

from contracts import sealing
from contracts.bidder import seal_bid
from ledger import encoding
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from tests.trading_kit import Trading, uscc

PRICES = [0, 1, 255, (1 << 32) - 1, 1 << 32, (1 << 63) + 5, (1 << 64) - 1]


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_every_sealed_summary_has_the_same_length_whatever_the_price(suite: Suite) -> None:
    aad = sealing.header(suite, "c", "T1", 1, uscc(5))
    lengths = set()
    for price in PRICES:
        for extra in ({}, {"note": "x" * 3000}):
            bid = seal_bid(suite, "c", "T1", 1, uscc(5), b"file", price, bytes(32), extra)
            lengths.add(len(bid.sealed_summary))
            plain = sealing.open_sealed(suite, bid.content_key, bid.sealed_summary, aad)
            assert plain == bid.summary and encoding.decode(plain)["price_fen"] == price
    assert lengths == {sealing.sealed_len(suite)}
    assert sealing.sealed_len(suite) == sealing.max_sealed_len(suite)


def test_the_largest_summary_fits_and_one_byte_more_does_not() -> None:
    suite = ED25519_SHA256
    base = len(encoding.encode({"note": "", "price_fen": 1, "file_hash": bytes(32)}))
    room = sealing.MAX_SUMMARY_BYTES - base - 2  # the note's str16 header grows by 2
    seal_bid(suite, "c", "T1", 1, uscc(5), b"f", 1, bytes(32), {"note": "x" * room})
    with pytest.raises(ValueError, match="4094"):
        seal_bid(suite, "c", "T1", 1, uscc(5), b"f", 1, bytes(32), {"note": "x" * (room + 1)})


@pytest.mark.parametrize("plain", [
    b"",  # unpadded: the old format
    sealing.pad_summary(b"\x80")[:-1],  # one byte short
    b"\x00\x00" + bytes(4094),  # n = 0
    b"\x10\x00" + bytes(4094),  # n > 4094
    sealing.pad_summary(b"\x80")[:-1] + b"\x01",  # a pad byte that is not zero
])
def test_a_malformed_padding_is_refused_like_a_wrong_key(plain: bytes) -> None:
    suite = ED25519_SHA256
    key, nonce = bytes(range(32)), bytes(24)
    aad = sealing.header(suite, "c", "T1", 1, uscc(5))
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, aad, nonce, key)
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(suite, key, nonce + ct, aad)


def test_prices_above_two_to_the_32_are_revealed_and_recorded_on_chain() -> None:
    t = Trading()
    prices = [7, 1 << 32, (1 << 40) + 3]
    bidders = t.through_opening(3, prices)
    record = t.h.get("tender/T1/opening")
    assert isinstance(record, dict)
    by_uscc = {b["uscc"]: b for b in record["lots"][0]["bids"]}
    for bidder, price in zip(bidders, prices, strict=True):
        entry = by_uscc[t.uscc_of[bidder.name]]
        assert entry["status"] == "revealed" and entry["price_fen"] == price
    sealed = {len(t.sealed[(b.name, "T1", 1)].sealed_summary) for b in bidders}
    assert sealed == {sealing.sealed_len(t.h.suite)}

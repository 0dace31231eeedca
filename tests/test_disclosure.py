"""The disclosure policy (``contracts.disclosure``) on a plain state: who may read what."""

from __future__ import annotations

from contracts import keys
from contracts.disclosure import (
    PUBLIC,
    Reader,
    full_blocks,
    key_refusal,
    may_list_slots,
    reader_of,
    tx_disclosed,
)
from contracts.identity import entity_key, key_binding_key
from ledger import encoding
from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.tx import SignedTx, TxBody, sign_tx

NOW_MS = 1_760_000_000_000
A_KEY, B_KEY, PLATFORM, SUP = (bytes([i]) * 32 for i in (1, 2, 3, 4))
A, B = "91350100M000100Y43", "91441500MA00000113"


class State:
    def __init__(self, values: dict[str, object]) -> None:
        self.raw = {k: encoding.encode(v) for k, v in values.items()}

    def get(self, key: str) -> bytes | None:
        return self.raw.get(key)


def attested(uscc: str, key: bytes) -> dict[str, object]:
    return {entity_key(uscc): {"uscc": uscc, "valid_from_ms": 0, "valid_to_ms": NOW_MS * 2,
                               "revoked_ms": 0, "keys": [key]},
            key_binding_key(key): {"uscc": uscc, "since_ms": 0}}


STATE = State({
    "tender/OPEN": {"tender_id": "OPEN", "deadline_ms": NOW_MS + 3_600_000,
                    "platform_key": PLATFORM},
    "tender/DONE": {"tender_id": "DONE", "deadline_ms": NOW_MS - 1, "platform_key": PLATFORM},
    "bid/OPEN/1/aa": {"uscc": A}, "bid/DONE/1/aa": {"uscc": A},
    keys.role("platform", PLATFORM): {"granted_height": 0},
    keys.role("supervisor", SUP): {"granted_height": 0},
    **attested(A, A_KEY), **attested(B, B_KEY),
})
READ_A = Reader(A_KEY, A, frozenset())
READ_B = Reader(B_KEY, B, frozenset())
READ_PLATFORM = Reader(PLATFORM, None, frozenset({"platform"}))
READ_SUP = Reader(SUP, None, frozenset({"supervisor"}))


def test_readers_are_resolved_from_the_chain() -> None:
    assert reader_of(STATE, A_KEY, NOW_MS) == READ_A
    assert reader_of(STATE, SUP, NOW_MS) == READ_SUP
    assert reader_of(STATE, bytes(32), NOW_MS) is None  # a key the chain does not know


def test_a_sealed_bid_is_the_bidders_and_the_supervisors_until_the_deadline() -> None:
    for reader, allowed in ((PUBLIC, False), (READ_B, False), (READ_PLATFORM, False),
                            (READ_A, True), (READ_SUP, True)):
        assert (key_refusal(STATE, reader, "bid/OPEN/1/aa", NOW_MS) is None) == allowed
    assert key_refusal(STATE, READ_A, "bidset/OPEN/1", NOW_MS) is not None  # not the count
    assert key_refusal(STATE, READ_SUP, "bidset/OPEN/1", NOW_MS) is None
    assert key_refusal(STATE, PUBLIC, "bid/NOPE/1/aa", NOW_MS) is not None  # unknown tender
    assert key_refusal(STATE, PUBLIC, "bid/DONE/1/aa", NOW_MS) is None  # after the deadline
    assert key_refusal(STATE, PUBLIC, "bid/OPEN/1/aa", NOW_MS + 3_600_000) is None
    assert key_refusal(STATE, PUBLIC, "tender/OPEN", NOW_MS) is None


def test_an_enterprise_keys_nonce_is_its_own_and_a_roles_is_public() -> None:
    assert key_refusal(STATE, PUBLIC, keys.nonce(A_KEY), NOW_MS) is not None
    assert key_refusal(STATE, READ_B, keys.nonce(A_KEY), NOW_MS) is not None
    assert key_refusal(STATE, READ_A, keys.nonce(A_KEY), NOW_MS) is None
    assert key_refusal(STATE, READ_SUP, keys.nonce(A_KEY), NOW_MS) is None
    assert key_refusal(STATE, PUBLIC, keys.nonce(PLATFORM), NOW_MS) is None
    # a key unbound (or rotated) since, or one the chain never bound: still private
    unbound = State({k: encoding.decode(v) for k, v in STATE.raw.items()
                     if k != key_binding_key(A_KEY)})
    assert key_refusal(unbound, PUBLIC, keys.nonce(A_KEY), NOW_MS) is not None
    assert key_refusal(STATE, PUBLIC, keys.nonce(bytes(32)), NOW_MS) is not None


def test_a_guarantors_nonce_is_its_own_it_would_count_the_withheld_issues() -> None:
    """A guarantor's ``guarantee.issue`` is withheld before its deadline (it names a bidder to
    be); its key's nonce moved in each such block, so it is not public like other roles'."""
    bank = bytes([5]) * 32
    state = State({**{k: encoding.decode(v) for k, v in STATE.raw.items()},
                   keys.role("guarantor", bank): {"granted_height": 0}})
    assert key_refusal(state, PUBLIC, keys.nonce(bank), NOW_MS) is not None
    assert key_refusal(state, READ_A, keys.nonce(bank), NOW_MS) is not None
    assert key_refusal(state, Reader(bank, None, frozenset({"guarantor"})), keys.nonce(bank),
                       NOW_MS) is None
    assert key_refusal(state, READ_SUP, keys.nonce(bank), NOW_MS) is None
    assert key_refusal(state, PUBLIC, keys.nonce(PLATFORM), NOW_MS) is None  # other roles'


def tx(secret_seed: int, call: str, args: dict[str, object] | None = None) -> SignedTx:
    secret = bytes([secret_seed]) * 32
    body = TxBody("c", SUITE.public_key(secret), 0, call,
                  {"tender_id": "OPEN"} if args is None else args)
    return sign_tx(SUITE, secret, body)


def test_an_enterprises_acts_are_shown_to_it_and_supervisors_a_roles_to_all() -> None:
    seed = 9
    pub = SUITE.public_key(bytes([seed]) * 32)
    state = State({**{k: encoding.decode(v) for k, v in STATE.raw.items()},
                   **attested(A, pub)})
    own = tx(seed, "consent.grant")
    assert not tx_disclosed(state, PUBLIC, own, NOW_MS)
    assert not tx_disclosed(state, READ_B, own, NOW_MS)
    assert tx_disclosed(state, READ_A, own, NOW_MS)  # another key of the same entity
    assert tx_disclosed(state, READ_SUP, own, NOW_MS)
    assert tx_disclosed(state, PUBLIC, tx(3, "tender.announce"), NOW_MS)  # unbound: public
    assert not tx_disclosed(state, PUBLIC, tx(8, "bid.submit"), NOW_MS)  # a bid, whoever
    assert not full_blocks(PUBLIC) and not full_blocks(READ_A) and full_blocks(READ_SUP)


def test_the_tenders_platform_lists_its_slots_after_the_deadline() -> None:
    assert may_list_slots(STATE, READ_PLATFORM, "DONE", NOW_MS) is None
    assert may_list_slots(STATE, READ_PLATFORM, "OPEN", NOW_MS) is not None
    assert may_list_slots(STATE, READ_A, "DONE", NOW_MS) is not None
    assert may_list_slots(STATE, READ_SUP, "OPEN", NOW_MS) is None
    assert may_list_slots(STATE, READ_SUP, "NOPE", NOW_MS) is not None


def test_a_guarantee_issued_for_an_open_tender_names_its_bidder_to_nobody_else() -> None:
    body = TxBody("c", SUITE.public_key(bytes([5]) * 32), 0, "guarantee.issue",
                  {"tender_id": "OPEN", "principal": A, "beneficiary": B})
    issue = sign_tx(SUITE, bytes([5]) * 32, body)
    assert not tx_disclosed(STATE, PUBLIC, issue, NOW_MS)
    assert not tx_disclosed(STATE, READ_B, issue, NOW_MS)  # the beneficiary (tenderer) too
    assert tx_disclosed(STATE, READ_A, issue, NOW_MS)
    assert tx_disclosed(STATE, PUBLIC, issue, NOW_MS + 3_600_000)  # the deadline passed


def test_a_release_by_the_tenderer_before_the_deadline_names_its_bidder_to_nobody() -> None:
    """User walk: the tenderer's ``guarantee.release`` of a would-be bidder's guarantee was
    a public act (the tender's own side), and its event named the bidder. Before the
    deadline a claim or release is its sender's and the guarantee's principal's."""
    tenderer_seed = 10
    values = {k: encoding.decode(v) for k, v in STATE.raw.items()}
    values["tender/OPEN"] = {**values["tender/OPEN"], "tenderer": B, "agent": ""}
    values["guarantee/WG-1"] = {"number": "WG-1", "tender_id": "OPEN", "principal": A,
                                "beneficiary": B}
    tenderer = SUITE.public_key(bytes([tenderer_seed]) * 32)
    state = State({**values, **attested(B, tenderer)})
    reader_b = Reader(tenderer, B, frozenset())
    for call in ("guarantee.release", "guarantee.claim"):
        sent = tx(tenderer_seed, call, {"number": "WG-1"})
        assert not tx_disclosed(state, PUBLIC, sent, NOW_MS), call
        assert tx_disclosed(state, READ_A, sent, NOW_MS), call  # the principal's guarantee
        assert tx_disclosed(state, reader_b, sent, NOW_MS), call  # its sender's act
        assert tx_disclosed(state, PUBLIC, sent, NOW_MS + 3_600_000), call  # the deadline
    amend = tx(tenderer_seed, "tender.amend")
    assert tx_disclosed(state, PUBLIC, amend, NOW_MS)  # its other acts stay public


def test_from_the_deadline_on_everything_about_a_tender_is_public() -> None:
    bidder_seed, tenderer_seed, other_seed = 9, 10, 11
    bidder, tenderer, other = (SUITE.public_key(bytes([s]) * 32)
                               for s in (bidder_seed, tenderer_seed, other_seed))
    values = {k: encoding.decode(v) for k, v in STATE.raw.items()}
    values["tender/OPEN"] = {**values["tender/OPEN"], "tenderer": B, "agent": ""}
    state = State({**values, **attested(A, bidder), **attested(B, tenderer)})
    deadline = NOW_MS + 3_600_000
    bid, award = tx(bidder_seed, "bid.submit"), tx(tenderer_seed, "tender.award")
    amend, open_ = tx(tenderer_seed, "tender.amend"), tx(3, "bid.open")
    # before the deadline: the tender's own side acts in public, a bidder's act is sealed
    assert tx_disclosed(state, PUBLIC, amend, NOW_MS)
    assert not tx_disclosed(state, PUBLIC, bid, NOW_MS)
    assert not tx_disclosed(state, READ_B, bid, NOW_MS)  # not even to the tenderer
    assert not tx_disclosed(state, PUBLIC, open_, NOW_MS)
    # from the deadline on: the bid, the opening and the award are public
    for shown in (bid, award, amend, open_):
        assert tx_disclosed(state, PUBLIC, shown, deadline)
    # an entity's act naming no tender stays its own, after any deadline
    consent = tx(bidder_seed, "consent.grant", {"grantee": A})
    assert not tx_disclosed(state, PUBLIC, consent, deadline)
    # whose act it was is judged when it was sent: a key unbound since stays its entity's
    unbound = State({k: encoding.decode(v) for k, v in state.raw.items()
                     if k != key_binding_key(bidder)})
    assert tx_disclosed(unbound, PUBLIC, consent, NOW_MS)  # judged at the head only
    assert not tx_disclosed(unbound, PUBLIC, consent, NOW_MS, (state,))
    assert tx_disclosed(unbound, READ_A, consent, NOW_MS, (state,))
    # a bid by a key of no entity is still a bid
    assert not tx_disclosed(state, PUBLIC, tx(other_seed, "bid.submit"), NOW_MS)
    assert other not in (bidder, tenderer)


def test_a_call_carrying_a_bidder_secret_stays_private_after_the_deadline() -> None:
    """Submit, replace and withdraw name the bidder's secret, which keys its slots in every
    tender: after the deadline they stay the bidder's and supervisors'; a reveal (no secret)
    becomes public like the rest of the tender."""
    seed = 9
    state = State({**{k: encoding.decode(v) for k, v in STATE.raw.items()},
                   **attested(A, SUITE.public_key(bytes([seed]) * 32))})
    deadline = NOW_MS + 3_600_000
    secret_args = {"tender_id": "OPEN", "lot": 1, "bid_secret": bytes(32)}
    for call in ("bid.submit", "bid.replace", "bid.withdraw"):
        sent = tx(seed, call, secret_args)
        for now in (NOW_MS, deadline, deadline * 2):
            assert not tx_disclosed(state, PUBLIC, sent, now)
            assert not tx_disclosed(state, READ_B, sent, now)
            assert not tx_disclosed(state, READ_PLATFORM, sent, now)
        assert tx_disclosed(state, READ_A, sent, deadline)
        assert tx_disclosed(state, READ_SUP, sent, deadline)
    reveal = tx(seed, "bid.reveal", {"tender_id": "OPEN", "lot": 1, "content_key": bytes(32)})
    assert not tx_disclosed(state, PUBLIC, reveal, NOW_MS)
    assert tx_disclosed(state, PUBLIC, reveal, deadline)


def test_a_bidders_enrolment_is_its_own() -> None:
    key = f"bidder/{A}"
    assert key_refusal(STATE, READ_A, key, NOW_MS) is None
    assert key_refusal(STATE, READ_SUP, key, NOW_MS) is None
    for reader in (PUBLIC, READ_B, READ_PLATFORM):
        assert key_refusal(STATE, reader, key, NOW_MS) is not None

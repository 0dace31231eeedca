"""The cluster benchmark's workload: who acts, what they sign, and in which proportions.

A ``Workload`` builds every signed transaction of one benchmark run, before any node starts
(client signing then never competes with the validators in the measured window):

- ``setup_blocks()``: the history the window needs, as blocks executed offline
  (``benchmarks/prebuilt.py``): bidder entities attested with their keys bound, tenders
  announced, guarantees issued, sealed bids submitted and, for the "opening" tenders, the
  deadline passed and ``bid.open`` done, so that their bidders can reveal in the decryption
  window during the run; plus optional *filler* (attested entities with bound keys and credit
  records) to bring the state to a chosen number of keys;
- ``window_runs()``: the measured load, as *runs*: one sender's consecutive transactions
  (nonces n..n+k-1), sent in one request. A sender's next run is sent only after the node
  answered the previous one, and every sender always talks to the same node, so no run waits
  behind a nonce gap of the benchmark's making (a run the node refused in part is sent again
  from the refused transaction on); the driver composes each request from runs of every kind in the
  proportions of the template below.

The realistic template (``REALISTIC``, 100 transactions per request) — per tender lot bids,
their guarantees and their reveals dominate; credit feeds write records in bulk; new entities
are attested now and then; a tender is announced per ~100 transactions:

==========================  ====  =============================================================
call                        share  what it is
==========================  ====  =============================================================
``identity.attest``          8 %  an attestor attests a new entity and binds its key (runs of 4)
``credit.record``           16 %  a credit authority writes performance, good-standing,
                                  qualification and general-breach records (runs of 8)
``tender.announce``          1 %  a platform announces a 5-lot works tender (runs of 1)
``guarantee.issue``         25 %  a bank issues a bid guarantee for a lot (runs of 5)
``bid.submit``              25 %  a bidder seals 5 bids (4 KiB sealed summary each, guarantee
                                  bound) on the 5 lots of one tender (runs of 5)
``bid.reveal``              25 %  a bidder reveals its 5 content keys in the decryption window;
                                  the contract decrypts and checks each (runs of 5)
==========================  ====  =============================================================

Reads beside the writes (``read_targets``): proof bundles of guarantees (验真, PROTOCOL §7,
``GET /proof/guarantee/<number>``) and eligibility queries (an entity's attestation and its
credit index in one §9 bundle, ``GET /proofs?key=id/entity/<uscc>&key=credit/entity/<uscc>``).

``call:<name>`` mixes run one call of the realistic mix alone (``template_of``), to measure
its cost per transaction apart. Every setup also attests ``MEMBERS`` entities: the subjects
of the window's credit records and the principals of its guarantees.

No call in the realistic mix is meant to fail: every receipt should be ``OK``. The no-op
template (``NOOP``) calls ``bench.noop``, which no contract handles (receipt
``E_UNKNOWN_CALL``, the nonce still moves): the comparison line of the earlier benchmarks.

Time: the setup history is dated in the past (genesis 40 days before the build), so the
statutory periods are real Beijing calendar days and the chain is not a demonstration chain:
no ``demo_day_ms`` and no ``demo`` genesis flag. The opening tenders were announced 38 days
ago with a deadline 21 days later; their ``bid.open`` is the last setup block, dated at the
build; the ``decrypt_window_ms`` parameter is set to its maximum (one day) so a run may start
long after its build. The bidding tenders' deadline is 30 days after the build.

Every key is derived from a label (``actor``): a benchmark, never a production set-up.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.bidder import SealedBid, agent_tx, enrol_args, seal_bid
from contracts.periods import DAY_MS
from contracts.uscc import check_char
from ledger.crypto import Suite
from ledger.limits import MAX_ARGS_STR_BYTES
from ledger.tx import SignedTx, TxBody, sign_tx

CHAIN_ID = "bench"
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

GENESIS_DAYS_AGO = 40
LOTS_PER_TENDER = 5
BIDDERS_PER_TENDER_MAX = 150  # under the default bids_per_lot_max (200)
PRICE_FEN = 1_000_000_000  # 10 million yuan estimated per lot
GUARANTEE_FEN = 10_000_000  # 100,000 yuan required per lot (1 %)
REGION = "441500"
FILLER_KEYS_PER_ENTITY = 8  # keys bound by one filler attestation
FILLER_RECORDS_PER_ENTITY = 2  # credit records per filler entity
FILLER_STATE_KEYS_PER_ENTITY = 1 + FILLER_KEYS_PER_ENTITY + 2 * FILLER_RECORDS_PER_ENTITY + 1
GENESIS_PARAMS: dict[str, int | str] = {"decrypt_window_ms": DAY_MS}


@dataclass(frozen=True)
class Slot:
    """``runs`` runs of ``run_txs`` transactions calling ``call``, in every request."""

    call: str
    runs: int
    run_txs: int


REALISTIC: tuple[Slot, ...] = (
    Slot("identity.attest", 2, 4),
    Slot("credit.record", 2, 8),
    Slot("tender.announce", 1, 1),
    Slot("guarantee.issue", 5, 5),
    Slot("bid.submit", 5, LOTS_PER_TENDER),
    Slot("bid.reveal", 5, LOTS_PER_TENDER),
)
NOOP: tuple[Slot, ...] = (Slot("bench.noop", 4, 25),)
TEMPLATES = {"realistic": REALISTIC, "noop": NOOP}
MEMBERS = 64  # entities attested in every setup: principals and subjects of window records


def template_of(mix: str) -> tuple[Slot, ...]:
    """``realistic``, ``noop``, or ``call:<name>``: one call of the realistic mix alone,
    100 transactions per request (its cost measured apart)."""
    if mix in TEMPLATES:
        return TEMPLATES[mix]
    name = mix.removeprefix("call:")
    for slot in REALISTIC:
        if slot.call == name:
            # a role holder's runs of 10 (ten senders per request: the role's senders per
            # node are not all busy at once); a bidder's runs keep their length
            run_txs = 10 if name in ROLE_OF_CALL else slot.run_txs
            return (Slot(name, 100 // run_txs, run_txs),)
    raise ValueError(f"unknown mix {mix!r}: realistic, noop or call:<one of "
                     f"{', '.join(s.call for s in REALISTIC)}>")


def mixes() -> list[str]:
    return [*TEMPLATES, *(f"call:{s.call}" for s in REALISTIC)]
ROLE_OF_CALL = {
    "identity.attest": "attestor",
    "credit.record": "credit_authority",
    "tender.announce": "platform",
    "guarantee.issue": "guarantor",
    "bench.noop": "platform",
}
ROLE_SENDERS_PER_NODE = 32  # keys per role and per node for the role holders' runs


def request_txs(template: Sequence[Slot]) -> int:
    return sum(s.runs * s.run_txs for s in template)


@dataclass(frozen=True)
class Actor:
    label: str
    secret: bytes
    pubkey: bytes


def actor(suite: Suite, label: str) -> Actor:
    """A key derived from ``label`` (public knowledge: a benchmark key, valid for the suite)."""
    counter = 0
    while True:
        digest = hashlib.sha256(f"credchain-bench/{suite.name}/{label}/{counter}".encode()).digest()
        if suite.name != "sm2-sm3" or 0 < int.from_bytes(digest, "big") < _SM2_N - 1:
            return Actor(label, digest, suite.public_key(digest))
        counter += 1


def uscc(serial: int) -> str:
    first = f"91441500MA{serial:07d}"
    return first + check_char(first)


def bidder_secret(code: str) -> bytes:
    """A bidder's secret (``bid.enrol``), fixed per USCC so runs are reproducible."""
    return hashlib.sha256(f"bench-bidder-secret/{code}".encode()).digest()


def filler_pubkey(suite: Suite, n: int) -> bytes:
    """A public key for a filler binding. Ed25519: 32 bytes from a hash (the contracts check
    only the length; nobody holds its secret), so a million cost nothing; SM2 keys must be
    curve points, so they are real keys (~1,000/s here: keep SM2 fillers small)."""
    a = hashlib.sha256(b"filler-key/%d" % n).digest()
    if suite.name != "sm2-sm3":
        return a
    return suite.public_key((int.from_bytes(a, "big") % (_SM2_N - 2) + 1).to_bytes(32, "big"))


@dataclass(frozen=True)
class Run:
    """One sender's consecutive transactions, sent in one request to ``node``."""

    call: str
    sender: bytes
    node: int
    txs: tuple[SignedTx, ...]


@dataclass
class Workload:
    """Every transaction of one run. ``requests`` is how many requests the window may send
    (each of ``request_txs(template)`` transactions); ``filler_keys`` the state keys to add."""

    suite: Suite
    n_nodes: int
    template: tuple[Slot, ...]
    requests: int
    now_ms: int
    filler_keys: int = 0
    pad_bytes: int = 0  # bench.noop only: a padding argument of this many bytes
    nonces: dict[bytes, int] = field(default_factory=dict)
    _roles: dict[str, list[Actor]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.suite
        self.genesis_ms = self.now_ms - GENESIS_DAYS_AGO * DAY_MS
        per_role = ROLE_SENDERS_PER_NODE * self.n_nodes
        self._roles = {role: [actor(s, f"{role}/{i}") for i in range(per_role)]
                       for role in ("attestor", "credit_authority", "platform", "guarantor")}
        self.tenderer = actor(s, "tenderer")
        self.tenderer_uscc = uscc(1)
        self.operator_uscc = uscc(2)
        runs = {slot.call: slot.runs * self.requests for slot in self.template}
        self.bidders = [actor(s, f"bidder/{i}") for i in range(runs.get("bid.submit", 0))]
        self.revealers = [actor(s, f"revealer/{i}") for i in range(runs.get("bid.reveal", 0))]
        self.bidding_tenders = self._tender_ids("A", len(self.bidders)) or ["BENCH-A-0"]
        self.opening_tenders = self._tender_ids("B", len(self.revealers))
        self.members = [(actor(s, f"member/{i}"), uscc(9_000_000 + i)) for i in range(MEMBERS)]
        self.sealed: dict[tuple[str, int, str], SealedBid] = {}
        self.guarantees_setup: list[str] = []
        self.entities_setup: list[str] = []

    # ---- who -------------------------------------------------------------------------------

    @staticmethod
    def _tender_ids(group: str, bidders: int) -> list[str]:
        count = math.ceil(bidders / BIDDERS_PER_TENDER_MAX) if bidders else 0
        return [f"BENCH-{group}-{i}" for i in range(count)]

    def role_keys(self) -> dict[str, list[bytes]]:
        """The role grants the genesis must hold (the chain admits only senders it knows)."""
        return {role: [a.pubkey for a in members] for role, members in self._roles.items()}

    def _sign(self, who: Actor, call: str, args: Mapping[str, Any]) -> SignedTx:
        nonce = self.nonces.get(who.pubkey, 0)
        self.nonces[who.pubkey] = nonce + 1
        return sign_tx(self.suite, who.secret, TxBody(CHAIN_ID, who.pubkey, nonce, call,
                                                      dict(args)))

    def _agent_sign(self, who: Actor, call: str, args: Mapping[str, Any]) -> SignedTx:
        """A sealed bid call from a fresh one-time agent key ``who`` authorises, as a
        bidder's tool sends it (``contracts.agents``)."""
        return agent_tx(self.suite, CHAIN_ID, who.secret, call, args)

    def _role(self, role: str, i: int) -> Actor:
        members = self._roles[role]
        return members[i % len(members)]

    def _bidder_uscc(self, group: str, i: int) -> str:
        return uscc(10_000 + i if group == "A" else 1_000_000 + i)

    # ---- argument builders -----------------------------------------------------------------

    def _attest_args(self, code: str, name: str, keys: list[bytes], at_ms: int) -> dict[str, Any]:
        return {"uscc": code, "name": name, "entity_type": "company", "cert_issuer": "GDCA",
                "cert_serial": f"S-{code}", "valid_from_ms": at_ms - DAY_MS,
                "valid_to_ms": at_ms + 1000 * DAY_MS, "keys": keys}

    def _credit_args(self, code: str, n: int, at_ms: int) -> dict[str, Any]:
        kind = ("performance", "good_standing", "qualification", "general_breach")[n % 4]
        args: dict[str, Any] = {
            "uscc": code, "kind": kind, "document_no": f"CR-{n}", "basis": "benchmark record",
            "scope_kinds": ["*"], "scope_regions": [REGION], "from_ms": at_ms - DAY_MS,
            "to_ms": at_ms + 180 * DAY_MS,
            "evidence_hash": hashlib.sha256(b"evidence %d" % n).digest()}
        if kind == "qualification":
            args.update(category="construction", level=1 + n % 3)
        return args

    def _announce_args(self, tender_id: str, issue_ms: int, deadline_ms: int) -> dict[str, Any]:
        return {
            "tender_id": tender_id, "rules": "bidding-law", "kind": "works", "region": REGION,
            "tenderer": self.tenderer_uscc, "agent": "", "platform_uscc": self.operator_uscc,
            "related_parties": [], "doc_hash": hashlib.sha256(tender_id.encode()).digest(),
            "issue_start_ms": issue_ms, "doc_sale_end_ms": issue_ms + 6 * DAY_MS,
            "deadline_ms": deadline_ms, "validity_days": 90, "qualifications": [],
            "lots": [{"name": f"lot {i}", "estimated_price_fen": PRICE_FEN,
                      "guarantee_fen": GUARANTEE_FEN} for i in range(1, LOTS_PER_TENDER + 1)]}

    def _guarantee_args(self, number: str, principal: str, tender_id: str, lot: int,
                        valid_from_ms: int, deadline_ms: int) -> dict[str, Any]:
        return {"number": number, "principal": principal, "beneficiary": self.tenderer_uscc,
                "tender_id": tender_id, "lot": lot, "amount_fen": GUARANTEE_FEN,
                "valid_from_ms": valid_from_ms, "valid_to_ms": deadline_ms + 365 * DAY_MS,
                "file_hash": hashlib.sha256(number.encode()).digest()}

    # ---- the setup history -------------------------------------------------------------------

    def setup_blocks(self) -> Iterator[tuple[int, list[SignedTx]]]:
        """``(time_ms, txs)`` of each setup step, oldest first; a step may be split into
        several blocks by the builder, each dated at its step's time plus its position."""
        t = self.genesis_ms + DAY_MS
        ents = [(self.tenderer, self.tenderer_uscc, "tenderer")]
        ents += [(b, self._bidder_uscc("A", i), b.label) for i, b in enumerate(self.bidders)]
        ents += [(b, self._bidder_uscc("B", i), b.label) for i, b in enumerate(self.revealers)]
        ents += [(a, code, a.label) for a, code in self.members]
        yield t, [self._sign(self._role("attestor", i), "identity.attest",
                             self._attest_args(code, name, [a.pubkey], t))
                  for i, (a, code, name) in enumerate(ents)]
        self.entities_setup = [code for _, code, _ in ents[1:]]
        bidders = [(b, self._bidder_uscc("A", i)) for i, b in enumerate(self.bidders)]
        bidders += [(b, self._bidder_uscc("B", i)) for i, b in enumerate(self.revealers)]
        yield t + DAY_MS // 4, [self._sign(b, "bid.enrol", enrol_args(self.suite,
                                                                      bidder_secret(code)))
                                for b, code in bidders]
        yield from self._filler(t + DAY_MS // 2)

        t_announce = self.genesis_ms + 2 * DAY_MS
        bidding_deadline = self.now_ms + 30 * DAY_MS
        opening_deadline = t_announce + 21 * DAY_MS
        platform = self._role("platform", 0)
        yield t_announce, (
            [self._sign(platform, "tender.announce",
                        self._announce_args(tid, t_announce, bidding_deadline))
             for tid in self.bidding_tenders]
            + [self._sign(platform, "tender.announce",
                          self._announce_args(tid, t_announce, opening_deadline))
               for tid in self.opening_tenders])

        t_bids = t_announce + DAY_MS
        guarantees: list[SignedTx] = []
        bids: list[SignedTx] = []
        for group, people, tenders, deadline in (
                ("A", self.bidders, self.bidding_tenders, bidding_deadline),
                ("B", self.revealers, self.opening_tenders, opening_deadline)):
            for i, who in enumerate(people):
                tid = tenders[i % len(tenders)]
                code = self._bidder_uscc(group, i)
                for lot in range(1, LOTS_PER_TENDER + 1):
                    number = f"G{group}-{i}-{lot}"
                    guarantees.append(self._sign(
                        self._role("guarantor", len(guarantees)), "guarantee.issue",
                        self._guarantee_args(number, code, tid, lot, t_bids, deadline)))
                    self.guarantees_setup.append(number)
                    if group == "B":  # the opening tenders' bids are sealed in the setup
                        sealed = self._seal(tid, lot, code, i)
                        bids.append(self._agent_sign(who, "bid.submit",
                                                     sealed.submit_args(number)))
        yield t_bids, guarantees
        yield t_bids + DAY_MS // 2, bids

        slots_of: dict[str, list[list[bytes]]] = {
            tid: [[] for _ in range(LOTS_PER_TENDER)] for tid in self.opening_tenders}
        for (tid, lot, code) in self.sealed:
            slots_of[tid][lot - 1].append(self.sealed[(tid, lot, code)].slot)
        yield self.now_ms, [
            self._sign(platform, "bid.open",
                       {"tender_id": tid, "slots": [sorted(s) for s in slots_of[tid]]})
            for tid in self.opening_tenders]

    def _seal(self, tender_id: str, lot: int, code: str, i: int) -> SealedBid:
        price = 900_000_000 + (i * 7919 + lot * 104_729) % 90_000_000
        sealed = seal_bid(self.suite, CHAIN_ID, tender_id, lot, code,
                          f"bid file {tender_id}/{lot}/{code}".encode(), price,
                          bidder_secret(code))
        self.sealed[(tender_id, lot, code)] = sealed
        return sealed

    def _filler(self, t_ms: int) -> Iterator[tuple[int, list[SignedTx]]]:
        """Attested entities with bound keys and credit records, about
        ``FILLER_STATE_KEYS_PER_ENTITY`` state keys each, in steps of 2,000 entities."""
        entities = self.filler_keys // FILLER_STATE_KEYS_PER_ENTITY
        step = 2_000
        for lo in range(0, entities, step):
            attests, records = [], []
            for e in range(lo, min(entities, lo + step)):
                code = uscc(2_000_000 + e)
                keys = [filler_pubkey(self.suite, e * FILLER_KEYS_PER_ENTITY + k)
                        for k in range(FILLER_KEYS_PER_ENTITY)]
                attests.append(self._sign(self._role("attestor", e), "identity.attest",
                                          self._attest_args(code, f"filler {e}", keys, t_ms)))
                for r in range(FILLER_RECORDS_PER_ENTITY):
                    n = e * FILLER_RECORDS_PER_ENTITY + r
                    records.append(self._sign(self._role("credit_authority", n),
                                              "credit.record",
                                              self._credit_args(code, n % 2, t_ms)
                                              | {"document_no": f"FILL-{n}"}))
            yield t_ms, attests + records
            t_ms += 1000

    # ---- the measured window -----------------------------------------------------------------

    def window_runs(self) -> list[Run]:
        """Every run the window may send, in the order each sender must send them."""
        out: list[Run] = []
        counter = itertools.count()
        for slot in self.template:
            total = slot.runs * self.requests
            for r in range(total):
                out.append(self._run(slot, r, counter))
        return out

    def _run(self, slot: Slot, r: int, counter: itertools.count[int]) -> Run:
        call, k = slot.call, slot.run_txs
        now = self.now_ms
        if call == "bid.submit":
            who, code = self.bidders[r], self._bidder_uscc("A", r)
            tid = self.bidding_tenders[r % len(self.bidding_tenders)]
            txs = [self._agent_sign(who, call, self._seal(tid, lot, code, r).submit_args(
                f"GA-{r}-{lot}")) for lot in range(1, k + 1)]
            return Run(call, who.pubkey, r % self.n_nodes, tuple(txs))
        if call == "bid.reveal":
            who, code = self.revealers[r], self._bidder_uscc("B", r)
            tid = self.opening_tenders[r % len(self.opening_tenders)]
            txs = [self._sign(who, call, self.sealed[(tid, lot, code)].reveal_args())
                   for lot in range(1, k + 1)]
            return Run(call, who.pubkey, r % self.n_nodes, tuple(txs))
        role = ROLE_OF_CALL[call]
        # sender r of the role serves node (r mod n): the same node for all its runs
        who = self._role(role, r)
        node = self._roles[role].index(who) % self.n_nodes
        signed = []
        for _ in range(k):
            n = next(counter)
            signed.append(self._sign(who, call, self._window_args(call, n, now)))
        return Run(call, who.pubkey, node, tuple(signed))

    def _window_args(self, call: str, n: int, now: int) -> dict[str, Any]:
        if call == "identity.attest":
            fresh = actor(self.suite, f"newcomer/{n}")
            return self._attest_args(uscc(5_000_000 + n), f"newcomer {n}", [fresh.pubkey], now)
        if call == "credit.record":
            code = self.entities_setup[n % len(self.entities_setup)]
            return self._credit_args(code, 10_000_000 + n, now)
        if call == "tender.announce":
            issue = now + DAY_MS
            return self._announce_args(f"BENCH-W-{n}", issue, issue + 25 * DAY_MS)
        if call == "guarantee.issue":
            tid = self.bidding_tenders[n % len(self.bidding_tenders)]
            return self._guarantee_args(f"GW-{n}", self.members[n % MEMBERS][1], tid,
                                        1 + n % LOTS_PER_TENDER, now - DAY_MS,
                                        now + 30 * DAY_MS)
        # bench.noop: the padding in byte strings of at most MAX_ARGS_STR_BYTES (8 KiB)
        pad = [bytes(min(MAX_ARGS_STR_BYTES, self.pad_bytes - i))
               for i in range(0, self.pad_bytes, MAX_ARGS_STR_BYTES)]
        return {"n": n, "pad": pad} if pad else {"n": n}

    # ---- reads ---------------------------------------------------------------------------

    def read_targets(self) -> list[tuple[str, str]]:
        """``(kind, path)`` of the reads: guarantee proofs and eligibility bundles, alternating."""
        out = []
        for i in range(max(len(self.guarantees_setup), len(self.entities_setup))):
            if self.guarantees_setup:
                g = self.guarantees_setup[(i * 7) % len(self.guarantees_setup)]
                out.append(("read.guarantee_proof", f"/proof/guarantee/{g}"))
            if self.entities_setup:
                e = self.entities_setup[(i * 13) % len(self.entities_setup)]
                out.append(("read.eligibility",
                            f"/proofs?key=id/entity/{e}&key=credit/entity/{e}"))
        return out

"""The intermediary services supermarket is public business (``contracts.disclosure``): its
calls and events reach every reader, so an open request and an agency's selection are
notices (DOMAIN.md "Notices to enterprises"), while bids and guarantees naming a bidder stay
sealed before the deadline; and an agency's history lists its part in the supermarket.

Found by a user walkthrough: a stranger's, an agency's and a supervisor's ``/events?type=
market.*`` showed only ``market.item_added`` (the catalogue, a role's act), and ``history
entity`` of an agency listed only its refused market calls. A second walkthrough: the
request's events named only the request, so ``/events?entity=<owner>`` showed the owner
neither its requests nor the responses to them, ``entity=<agency>`` did not show an agency
its own response, and an agency passed over by ``market.next`` was named in no event. Every
event of a request now names its ``owner`` and the agency it concerns (``uscc``), and
``market.next`` tells the agency passed over with ``market.lapsed``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from cli import main
from contracts.disclosure import PUBLIC, tx_disclosed
from contracts.selection import SELECTION_METHODS
from contracts.supermarket import CATALOGUE_METHODS
from ledger import encoding
from ledger.tx import Receipt
from shell.api import build_app
from shell.auditrun import run_replay
from shell.chain import Chain
from shell.export import Export
from shell.history import entity_history
from shell.readers import sign_request
from shell.server import Node
from tests.storechain import StoreSource
from tests.test_contracts_supermarket import ITEM, Market
from tests.test_disclosure import (
    NOW_MS,
    READ_A,
    READ_B,
    READ_SUP,
    STATE,
    A,
    State,
    attested,
    tx,
)
from tests.test_privacy import node_of, replay
from tests.trading_kit import DEADLINE_MS, H32

R = {"request_id": "R1"}
R2 = {"request_id": "R2"}
MARKET_CALLS = sorted(f"market.{m}" for m in {**CATALOGUE_METHODS, **SELECTION_METHODS})


# ---- the policy on a plain state ----------------------------------------------------------


def _state_with_key(seed: int) -> State:
    """The policy tests' state, with the key of ``seed`` bound to entity A."""
    return State({**{k: encoding.decode(v) for k, v in STATE.raw.items()},
                  **attested(A, tx(seed, "x").body.sender)})


def test_every_supermarket_call_is_public_whoever_sends_it() -> None:
    seed = 9  # a key of entity A: its consents stay its own, its market calls do not
    state = _state_with_key(seed)
    assert {"market.register", "market.request", "market.respond", "market.select",
            "market.confirm", "market.rate"} <= set(MARKET_CALLS)
    for call in MARKET_CALLS:
        sent = tx(seed, call, {"request_id": "R1"})
        for reader in (PUBLIC, READ_B, READ_A, READ_SUP):
            assert tx_disclosed(state, reader, sent, NOW_MS), (call, reader)
        assert tx_disclosed(state, PUBLIC, tx(8, call, {"request_id": "R1"}), NOW_MS)
    assert not tx_disclosed(state, PUBLIC, tx(seed, "consent.grant", {}), NOW_MS)


def test_the_rule_opens_market_calls_only_and_never_a_bidder_secret() -> None:
    seed = 9
    state = _state_with_key(seed)
    # the prefix is the contract's name and its dot: nothing else starts with it
    for call in ("consent.grant", "identity.rotate_key", "bid.enrol", "bid.submit",
                 "marketing.register", "market", "x.market.register"):
        assert not tx_disclosed(state, PUBLIC, tx(seed, call, {"request_id": "R1"}), NOW_MS)
    assert not tx_disclosed(state, PUBLIC, tx(8, "bid.submit"), NOW_MS)  # a bid, whoever
    # a market call that names a bidder secret (no market call reads one) stays private
    secret = tx(seed, "market.respond", {"request_id": "R1", "bid_secret": bytes(32)})
    assert not tx_disclosed(state, PUBLIC, secret, DEADLINE_MS * 2)
    assert not tx_disclosed(state, READ_B, secret, NOW_MS)
    # a guarantee naming its bidder: still the principal's alone before the deadline
    issue = tx(5, "guarantee.issue", {"tender_id": "OPEN", "principal": A})
    assert not tx_disclosed(STATE, PUBLIC, issue, NOW_MS)
    assert not tx_disclosed(STATE, READ_B, issue, NOW_MS)


# ---- through a node's API and the history command -----------------------------------------


class Story:
    """A tender with a sealed bid and a guarantee (deadline not passed), beside a
    supermarket request that agencies answer and that selects one, which confirms; and a
    direct request whose agency lets its confirmation lapse, so ``market.next`` passes it
    over (none is left: the request fails)."""

    def __init__(self) -> None:
        m = Market(3)
        self.m, self.t = m, m.t
        t = self.t
        t.announce()
        bidder = t.entity("bidder")
        self.issue = t.issue("G-bidder", "bidder")
        self.bid = t.h.expect_ok(bidder, "bid.submit", t.bid_args(bidder, 1_000_000, "G-bidder"))
        self.request = t.h.expect_ok(m.owner, "market.request", m.request_args())
        a0, a1, self.lapser = m.agencies
        self.respond = t.h.expect_ok(a0, "market.respond", {**R, "price_fen": 300_000_00})
        self.respond_winner = t.h.expect_ok(a1, "market.respond", {**R, "price_fen": 250_000_00})
        m.past_window()
        # anyone may select: here an entity with no part in the request (its act is public)
        neighbour = t.entity("neighbour")
        self.select = t.h.expect_ok(neighbour, "market.select", R)
        self.winner, self.loser = a1, a0
        assert m.selected() == m.uscc(a1)
        t.h.expect_refused(a0, "market.confirm", R, "E_FORBIDDEN")
        self.confirm = t.h.expect_ok(a1, "market.confirm", R)
        t.h.expect_ok(m.owner, "market.record_contract", {**R, "contract_hash": H32})
        self.rate = t.h.expect_ok(m.owner, "market.rate", {**R, "rating": 4})
        self.direct = t.h.expect_ok(m.owner, "market.request", m.request_args(
            "R2", method="direct", agency=m.uscc(self.lapser), budget_fen=50_000_00))
        t.h.advance(days=3)  # the lapser does not confirm in time
        self.next = t.h.expect_ok(neighbour, "market.next", R2)
        assert m.get("R2")["status"] == "failed"
        assert t.h.time_ms < DEADLINE_MS  # the bid is still sealed at the head

    def uscc(self, name: str) -> str:
        return self.t.uscc_of[name]


def _id(receipt: Receipt) -> str:
    return receipt.tx_id.hex()


async def _events(client: TestClient[Any, Any], query: str,
                  headers_of: Any = None) -> list[dict[str, Any]]:
    """Every item of ``/events?from_height=1&<query>``, page by page."""
    items: list[dict[str, Any]] = []
    target = f"/events?from_height=1&{query}"
    while True:
        headers = {} if headers_of is None else headers_of(target)
        page = await (await client.get(target, headers=headers)).json()
        if not page["items"]:
            return items
        items += page["items"]
        target = f"/events?cursor={page['next']}&{query}"


def _api(s: Story, node: Node) -> None:
    t, m = s.t, s.m
    winner, loser, owner = m.uscc(s.winner), m.uscc(s.loser), s.uscc("owner")
    lapser = m.uscc(s.lapser)

    def signed_by(name: str) -> Any:
        secret = t.h.account(name).secret
        return lambda target: sign_request(t.h.suite, secret, t.h.chain_id, "GET", target)

    async def body() -> None:
        async with TestClient(TestServer(build_app(node, node.guard))) as client:
            seen = await _events(client, "type=market.*")
            types = [i["type"] for i in seen]
            for wanted in ("market.item_added", "market.registered", "market.requested",
                           "market.responded", "market.selected", "market.confirmed"):
                assert wanted in types, (wanted, types)
            selected = [i for i in seen if i["type"] == "market.selected"]
            assert [(i["event"]["request_id"], i["event"]["uscc"]) for i in selected] == [
                ("R1", winner), ("R2", lapser)]  # a direct request selects at once
            assert selected[0]["tx_id"] == _id(s.select) and winner in selected[0]["entities"]
            assert selected[1]["tx_id"] == _id(s.direct) and lapser in selected[1]["entities"]
            # every event of a request names its owner
            of_requests = [i for i in seen if "request_id" in i["event"]]
            assert of_requests and all(i["event"]["owner"] == owner and owner in i["entities"]
                                       for i in of_requests)
            # the agency, signed with its own key, follows its entity: told it was selected,
            # and shown its own response, the contract and its rating
            mine = await _events(client, f"entity={winner}", signed_by(s.winner.name))
            assert {"market.registered", "market.selected", "market.confirmed",
                    "market.contracted", "market.rated"} <= {i["type"] for i in mine}
            answered = [i for i in mine if i["type"] == "market.responded"]
            assert [i["tx_id"] for i in answered] == [_id(s.respond_winner)]
            assert answered[0]["event"]["uscc"] == winner
            loser_sees = await _events(client, f"entity={loser}", signed_by(s.loser.name))
            assert [(i["tx_id"], i["event"]["uscc"]) for i in loser_sees
                    if i["type"] == "market.responded"] == [(_id(s.respond), loser)]
            # the agency passed over is told: selected (directly), then lapsed; nothing of
            # the request it had no part in
            lapsed = await _events(client, f"entity={lapser}", signed_by(s.lapser.name))
            assert [i["type"] for i in lapsed if i["type"].startswith("market.")] == [
                "market.registered", "market.selected", "market.lapsed"]
            told = lapsed[-1]
            assert told["tx_id"] == _id(s.next) and told["call"] == "market.next"
            assert told["event"] == {"type": "market.lapsed", **R2, "owner": owner,
                                     "uscc": lapser, "confirm_by_ms": m.get("R2")[
                                         "confirm_by_ms"]}
            # the owner follows its entity: its requests, the responses to them and what
            # became of them, each request's events in order
            own = await _events(client, f"entity={owner}", signed_by("owner"))
            assert [i["tx_id"] for i in own if i["type"] == "market.requested"] == [
                _id(s.request), _id(s.direct)]
            assert [(i["tx_id"], i["event"]["uscc"]) for i in own
                    if i["type"] == "market.responded"] == [
                (_id(s.respond), loser), (_id(s.respond_winner), winner)]
            assert [(i["type"], i["event"].get("uscc")) for i in own
                    if i["type"].startswith("market.") and i["event"]["request_id"] == "R1"
                    and i["type"] != "market.responded"] == [
                ("market.requested", None), ("market.selected", winner),
                ("market.confirmed", winner), ("market.contracted", winner),
                ("market.rated", winner)]
            assert [(i["type"], i["event"].get("uscc")) for i in own
                    if i["type"].startswith("market.") and i["event"]["request_id"] == "R2"
                    ] == [("market.requested", None), ("market.selected", lapser),
                          ("market.lapsed", lapser), ("market.failed", None)]
            # an agency looking for work follows the open requests
            opened = await _events(client, "type=market.requested")
            assert [i["tx_id"] for i in opened] == [_id(s.request), _id(s.direct)]
            # nothing of the bid or of the guarantee naming the bidder reaches a stranger
            for query in ("type=bid.*", "type=guarantee.*", f"entity={s.uscc('bidder')}"):
                leaked = [i for i in await _events(client, query)
                          if i["type"].startswith(("bid.", "guarantee."))]
                assert leaked == [], (query, leaked)
            # a stranger reads a market transaction's body and receipt ...
            for receipt in (s.request, s.respond, s.select, s.confirm):
                got = await (await client.get(f"/txs/{_id(receipt)}")).json()
                assert "withheld" not in got and got["tx"]["body"]["call"].startswith(
                    "market."), got
            got = await (await client.get(f"/txs/{_id(s.respond)}")).json()
            assert got["tx"]["body"]["args"]["price_fen"] == 300_000_00
            # ... but not the sealed bid's nor the guarantee's, before the deadline
            for receipt in (s.bid, s.issue):
                got = await (await client.get(f"/txs/{_id(receipt)}")).json()
                assert got["status"] == "committed" and "withheld" in got and "tx" not in got
            # the owner's signed view of the supermarket is everyone's
            theirs = await _events(client, "type=market.*", signed_by("owner"))
            assert [i["cursor"] for i in theirs] == [i["cursor"] for i in seen]
            assert any(i["type"] == "market.rated" and {owner, winner} <= set(i["entities"])
                       for i in seen)  # the rating names the owner and the agency

    asyncio.run(body())


def _chain(s: Story) -> Chain:
    """The story's blocks, certified, in a real store: every transaction in it, ok."""
    chain = replay(s.t)
    for receipt in (s.issue, s.bid, s.request, s.respond, s.select, s.confirm, s.rate,
                    s.direct, s.next):
        found = chain.receipt(receipt.tx_id)
        assert found is not None and found[2].ok, receipt
    return chain


def _export(s: Story, tmp_path: Path) -> Path:
    chain = _chain(s)
    out = tmp_path / "market.sqlite"
    export = Export(out, s.t.h.doc)
    run_replay(s.t.h.doc, None, StoreSource(chain.store), None, None, None,
               before_commit=export.record)
    export.close()
    return out


def test_a_stranger_sees_the_supermarket_and_no_bid_through_the_api() -> None:
    s = Story()
    _api(s, node_of(_chain(s), s.t))


def test_an_agencys_history_lists_its_registration_response_and_selection(
        tmp_path: Path) -> None:
    s = Story()
    db_path = _export(s, tmp_path)
    winner, loser, owner = (s.m.uscc(s.winner), s.m.uscc(s.loser), s.uscc("owner"))
    got = CliRunner().invoke(main, ["history", "entity", winner, "--db", str(db_path)])
    assert got.exit_code == 0, got.output
    out = got.output
    order = [f"registered in the intermediary services supermarket for item {ITEM}",
             "responded to request R1", "250,000.00 yuan", "SELECTED for request R1",
             "confirm by", "confirmed its selection for request R1"]
    positions = [out.index(text) for text in order]
    assert positions == sorted(positions), out
    assert f"owner {owner}" in out and "rated 4 by the owner for request R1" in out
    # the agency passed over: its response, no selection, and its refused confirmation
    db = sqlite3.connect(str(db_path))
    db.row_factory = sqlite3.Row
    lost = "\n".join(entity_history(db, loser))
    assert "responded to request R1" in lost and "300,000.00 yuan" in lost
    assert "SELECTED" not in lost and "REFUSED market.confirm: E_FORBIDDEN" in lost
    # the owner: its request, the responses, whom the chain selected (a stranger's select
    # call), the confirmation, the contract and its rating
    mine = "\n".join(entity_history(db, owner))
    order = ["selection request R1 posted", "500,000.00 yuan, fiscal funds, lowest_price",
             f"agency {loser} responded to request R1", f"agency {winner} responded",
             f"agency {winner} selected for request R1",
             f"agency {winner} confirmed its selection for request R1",
             "service contract for request R1", f"rated agency {winner}: 4 for request R1"]
    positions = [mine.index(text) for text in order]
    assert positions == sorted(positions), mine
    # the agency the direct request R2 named, passed over when it did not confirm in time
    lapsed = "\n".join(entity_history(db, s.m.uscc(s.lapser)))
    assert "SELECTED for request R2" in lapsed, lapsed
    assert "passed over for request R2" in lapsed and "not confirmed by" in lapsed, lapsed
    db.close()

"""Sealed bids and the event stream (DOMAIN.md step 4; the argument is ``shell.events``'s
docstring): before a tender's deadline a stranger's stream shows nothing of bids — not the
bid events, not their number through the cursors — on twin chains that differ only in bids,
and on a live node with a stranger reading while bidders bid."""

from __future__ import annotations

import time
from typing import Any

from contracts.periods import DAY_MS
from shell.eventkit import parse_filter
from shell.server import Node
from tests.test_events_api import DEMO_DAY_MS, Client, committed, open_stream, run, submit
from tests.test_events_kit import BIDDERS, Story, SynthChain, everything

OFFSETS = (3 * DAY_MS, 3_600_000)


def _twin(with_bids: bool) -> tuple[SynthChain, int]:
    """A tender story; the twin with bids has them between and beside the same public
    transactions (and an enterprise's objection, in both), and in a block of their own (an
    empty block in the other twin)."""
    sc, story = SynthChain(), Story()
    t = sc.time_ms()
    sc.run([story.attest(n, t) for n in ("tenderer", *BIDDERS)])
    issue = sc.time_ms() + 1_000
    deadline = issue + 21 * DAY_MS
    sc.run([story.announce("P-1", issue, deadline), *story.enrols()], at_ms=issue)
    bids = [story.bid(n, "P-1") for n in BIDDERS] if with_bids else []
    # an enterprise's documents objection: its transaction is private, its notice public,
    # and it is not a bid, so both twins have it
    objection = story.object_("c", "P-1")
    # a block orders transactions by sender in order of first appearance: attestor, two
    # bidders' agents, an objector, platform, the last bidder's agent
    block3_ms = sc.time_ms() + 1_000  # a tender's issue start is not before its block
    public = [story.attest("tenderer", t),
              story.announce("Q-1", block3_ms, block3_ms + 21 * DAY_MS)]
    sc.run([public[0], *bids[:2], objection, public[1], *bids[2:3]])
    sc.run(bids[3:], at_ms=issue + DAY_MS)  # only a bid, or nothing
    for day in (5, 18, 19):
        sc.run([story.attest("tenderer", t)], at_ms=issue + day * DAY_MS)
    sc.run([], at_ms=deadline - 3_600_000)
    sc.run([], at_ms=deadline)  # the deadline passes in this block
    return sc, sc.chain.height()


def test_twin_chains_that_differ_only_in_bids_give_identical_public_streams() -> None:
    with_bids, top = _twin(True)
    without, top2 = _twin(False)
    assert top == top2
    # the chains do differ: the bids are in one of them
    calls = [tx.body.call for h in range(1, top + 1)
             for tx in with_bids.store.block(h).txs]  # type: ignore[union-attr]
    assert calls.count("bid.submit") == len(BIDDERS)
    block3 = with_bids.store.block(3)
    assert block3 is not None
    assert [tx.body.call for tx in block3.txs] == [
        "identity.attest", "bid.submit", "bid.submit", "tender.object", "tender.announce",
        "bid.submit"]  # by sender, in order of first appearance (each bid: its own agent)
    assert all(r.code == "OK" for r in with_bids.store.receipts(3) or [])
    for flt in ({}, {"entity": [Story().uscc("a")]}, {"tender": ["P-1"]}, {"type": ["bid.*"]},
                {"type": ["tender.*"]}):
        walk = everything(offsets_ms=OFFSETS, flt=parse_filter(flt))
        a, _ = with_bids.hub.page(walk, 1_000)
        b, _ = without.hub.page(walk, 1_000)
        assert [i.frame for i in a] == [i.frame for i in b], flt  # byte for byte
    everything_a, _ = with_bids.hub.page(everything(offsets_ms=OFFSETS), 1_000)
    types = [i.type for i in everything_a]
    assert types[-1] == "notice.deadline_passed" and "notice.deadline_soon" in types
    assert "notice.objection" in types and "tender.objection" not in types
    assert not any(t.startswith("bid.") for t in types)


def test_a_strangers_live_stream_during_a_tender_shows_nothing_of_bids() -> None:
    async def body(n: Node, client: Client) -> None:
        story, now = Story(), int(time.time() * 1000)
        ids = await submit(client, *(story.attest(x, now) for x in ("tenderer", *BIDDERS)))
        await committed(client, ids[-1])
        ids = await submit(client, *story.enrols())
        await committed(client, ids[-1])
        # the issue start may not be before the announcing block: a moment from now
        issue = n.chain.store.head_header().time_ms + 1_000
        deadline = issue + 40 * DEMO_DAY_MS  # four seconds of chain time after it
        ann = await submit(client, story.announce("L-1", issue, deadline, day_ms=DEMO_DAY_MS))
        await committed(client, ann[0])
        stranger = await open_stream(client, "from_height=1&heartbeat_ms=1000&remind=1s")
        watching_a = await open_stream(client, f"from_height=1&entity={story.uscc('a')}")
        watching_tender = await open_stream(client, "tender=L-1&type=bid.*,notice.*&remind=2s")
        bid_ids: list[str] = []
        for name in BIDDERS:  # each bid beside a public transaction
            sent = await submit(client, story.bid(name, "L-1"), story.attest("tenderer", now))
            bid_ids.append(sent[0])
        await committed(client, bid_ids[-1])
        # before the deadline: the bids are committed, and hidden everywhere
        sealed = await client.get(f"/txs/{bid_ids[0]}/inclusion")
        assert sealed.status == 403
        passed = await stranger.until(
            lambda f: f.event == "message" and f.json()["type"] == "notice.deadline_passed",
            timeout_s=20)
        before = stranger.items[: stranger.items.index(passed.json())]
        assert before and not [i for i in before if i["type"].startswith("bid.")]
        assert not [i for i in before if i.get("tx_id") in bid_ids]
        _ranks_have_no_holes(stranger.items)
        soon = [i for i in before if i["type"] == "notice.deadline_soon"]
        assert [i["before_ms"] for i in soon] == [1_000]
        # a follower of the tender sees its notices (3 days and 1 hour before were before
        # the tender existed: never), a follower of entity A its attestation only
        await watching_tender.until(lambda f: f.event == "message"
                                    and f.json()["type"] == "notice.deadline_passed")
        assert [(i["type"], i["before_ms"]) for i in watching_tender.items] == [
            ("notice.deadline_soon", 2_000), ("notice.deadline_passed", 0)]
        await watching_a.read_for(0.5)
        assert [i["type"] for i in watching_a.items] == ["identity.attested"]
        # after the deadline: the opening, the reveals and the opening record are public
        # notices; the bids themselves were sealed when committed and never enter the stream,
        # and their transactions carry the bidder's secret: they stay private for good
        opening = await submit(client, story.open("L-1", BIDDERS),
                               *(story.reveal(b, "L-1") for b in BIDDERS))
        await committed(client, opening[-1])
        closed = await submit(client, story.close("L-1"))
        closed_at = await committed(client, closed[0])
        await stranger.until(lambda f: f.event == "heartbeat"
                             and int(f.id.split(".")[0]) >= closed_at)
        after = stranger.items[stranger.items.index(passed.json()):]
        assert not [i for i in stranger.items if i.get("tx_id") in bid_ids]
        assert {i["tx_id"] for i in after if i["type"].startswith("bid.")} == set(
            opening + closed)
        assert [i["type"] for i in after if i.get("tx_id") == closed[0]] == [
            "bid.opening_record"]
        _ranks_have_no_holes(stranger.items)
        opened = await client.get(f"/txs/{bid_ids[0]}/inclusion")
        assert opened.status == 403
        record = await client.get("/state/tender/L-1/opening")
        assert record.status == 200
        assert len((await record.json())["value"]["lots"][0]["bids"]) == len(BIDDERS)
        for r in (stranger, watching_a, watching_tender):
            r.resp.close()

    run(body)


def _ranks_have_no_holes(items: list[dict[str, Any]]) -> None:
    ranks: dict[int, list[int]] = {}
    for i in items:
        if i["source"] == "chain" and i["event_index"] == 0:
            ranks.setdefault(i["height"], []).append(int(i["cursor"].split(".")[1]))
    assert all(r == list(range(len(r))) for r in ranks.values()), ranks

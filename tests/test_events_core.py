"""The event hub without HTTP: cursors, filters, the walk compared with the blocks (resumed at
random points, mid-block, across a restart, while blocks commit), the reminder rule, and
each item's proof checked offline."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest

from contracts.periods import DAY_MS, HOUR_MS
from ledger.errors import HistoryPruned, InvalidInput
from shell.chain import Chain
from shell.config import StreamSettings
from shell.eventkit import (
    Filter,
    cursor_text,
    end_key,
    event_key,
    notice_key,
    objection_notice_key,
    parse_cursor,
    parse_duration_ms,
    parse_filter,
)
from shell.eventproof import build_proof, check_proof
from shell.events import EventHub, Subscription, Walk
from shell.metrics import Metrics
from shell.notices import TenderSchedule
from shell.sse import SseParser
from tests.snapshotkit import state_sync
from tests.test_events_kit import (
    Story,
    SynthChain,
    anchor_of,
    as_expected,
    everything,
    expected_items,
    page_all,
    tender_story,
)

OFFSETS = (3 * DAY_MS, HOUR_MS)


@pytest.fixture(scope="module")
def story_chain() -> SynthChain:
    sc = SynthChain()
    story = Story()
    tender_story(sc, story, "T-1")
    t = sc.time_ms()
    sc.run([story.announce("T-2", t + 1, t + 1 + 22 * DAY_MS, kind="goods", region="441581")],
           at_ms=t + 1)
    for day in range(1, 24):
        sc.run([], at_ms=t + day * DAY_MS)
    return sc


# ---- cursors and filters ------------------------------------------------------------------


def test_cursor_texts_round_trip_and_sort_notices_then_events_then_block_end() -> None:
    keys = [end_key(4), notice_key(5, 100, "T.1"), notice_key(5, 100, "T.2"),
            notice_key(5, 200, "A"), objection_notice_key(5, 1, "T.2"),
            objection_notice_key(5, 2, "A"), event_key(5, 0, 0), event_key(5, 0, 1),
            event_key(5, 1, 0), end_key(5), notice_key(6, 1, "A")]
    assert sorted(keys) == keys
    for k in keys:
        assert parse_cursor(cursor_text(k)) == k
    assert cursor_text(notice_key(7, 123, "SW-1.a")) == "7.n.123.SW-1.a"
    assert cursor_text(objection_notice_key(7, 2, "SW-1.a")) == "7.o.2.SW-1.a"


@pytest.mark.parametrize("text", ["", "x", "1.2", "1.2.3.4", "-1", "1.n.2", "1.n.x.T",
                                  "1.n.5.bad/id", "1.o.x.T", "1.o.2", "1." + "9" * 20 + ".0",
                                  "1 .2.3", "9" * 130])
def test_bad_cursors_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        parse_cursor(text)


def test_filters_parse_and_match_and_refuse_bad_values() -> None:
    f = parse_filter({"type": ["tender.*,bid.opened"], "region": ["441502"]})
    assert f.type_prefixes == ("tender.",) and f.types == {"bid.opened"}
    assert f.wants_type("tender.amended") and f.wants_type("bid.opened")
    assert not f.wants_type("bid.revealed")
    for bad in ({"type": ["te*der"]}, {"tender": ["a/b"]}, {"entity": ["x" * 65]},
                {"region": [",".join(str(i) for i in range(33))]}):
        with pytest.raises(InvalidInput):
            parse_filter(bad)
    assert parse_duration_ms("3d") == 3 * DAY_MS and parse_duration_ms("90m") == 90 * 60_000
    with pytest.raises(InvalidInput):
        parse_duration_ms("3 weeks")


# ---- the walk against the blocks ------------------------------------------------------------


def test_the_stream_is_what_the_blocks_say(story_chain: SynthChain) -> None:
    got = as_expected(page_all(story_chain.hub, everything(offsets_ms=OFFSETS)))
    assert got == expected_items(story_chain.store, OFFSETS)
    types = [g[1] for g in got]
    # bids are sealed when committed (before the deadline): never in the public stream
    assert not {"bid.sealed", "bid.withdrawn"} & set(types)
    # the opening and its record come after the deadline: public notices
    assert {"bid.opened", "bid.opening_record"} <= set(types)
    assert types.count("notice.deadline_passed") == 2


def test_ranks_have_no_holes_where_sealed_bids_sit(story_chain: SynthChain) -> None:
    items = page_all(story_chain.hub, everything())
    by_block: dict[int, list[int]] = {}
    for i in items:
        if i["source"] == "chain" and i["event_index"] == 0:
            by_block.setdefault(i["height"], []).append(int(i["cursor"].split(".")[1]))
    assert all(ranks == list(range(len(ranks))) for ranks in by_block.values())
    # block 3 holds [attest, bid, bid, amend]: the stream shows ranks 0 and 1
    block = story_chain.store.block(3)
    assert block is not None and [t.body.call for t in block.txs] == [
        "identity.attest", "bid.submit", "bid.submit", "tender.amend"]
    assert by_block[3] == [0, 1]


@pytest.mark.parametrize("seed", range(6))
def test_resuming_at_random_points_misses_nothing_and_repeats_nothing(
        story_chain: SynthChain, seed: int) -> None:
    rng = random.Random(seed)
    flt = Filter() if seed % 2 else parse_filter({"type": ["notice.*,bid.*,tender.amended"]})
    want = [w for w in expected_items(story_chain.store, OFFSETS)
            if flt.wants_type(w[1])]
    walk, got = everything(offsets_ms=OFFSETS, flt=flt), []
    while True:
        items, after = story_chain.hub.page(walk, rng.randint(1, 4))
        got += [json.loads(i.data) for i in items]
        if not items and after == walk.after:
            break
        # the next request resumes from the last item received (or a block end)
        walk = Walk(after, flt, OFFSETS, 15_000)
    assert as_expected(got) == want


def test_resuming_across_a_restart_mid_backfill(story_chain: SynthChain) -> None:
    want = expected_items(story_chain.store, OFFSETS)
    first, after = story_chain.hub.page(everything(offsets_ms=OFFSETS), 7)
    assert after[1] == 1  # mid-block: an event's cursor
    again = story_chain.restart()  # a fresh hub over the same store
    rest = page_all(again.hub, Walk(after, Filter(), OFFSETS, 15_000))
    assert as_expected([json.loads(i.data) for i in first] + rest) == want


def test_a_page_does_not_wait_for_the_indexing_task(story_chain: SynthChain) -> None:
    fresh = EventHub(story_chain.chain, Metrics())  # its indexing task never started
    assert fresh.schedule.covered_height == 0
    got = as_expected(page_all(fresh, everything(offsets_ms=OFFSETS)))
    assert got == expected_items(story_chain.store, OFFSETS)


def test_a_store_started_from_a_snapshot_gives_the_archive_stream_after_its_base(
        story_chain: SynthChain) -> None:
    base = 7  # after the amendment (block 6), before the reminders fire (9, 10, 11)
    synced = state_sync(story_chain.store, story_chain.doc, base)
    chain = Chain.open(synced.kv, story_chain.doc)
    hub = EventHub(chain, Metrics())
    for h in range(base + 1, story_chain.chain.height() + 1):  # then block sync, as a node
        block, qc = story_chain.store.block(h), story_chain.store.qc(h)
        assert block is not None and qc is not None
        hub.on_commit(block, qc, chain.commit(block, qc))
    got = page_all(hub, everything(base, OFFSETS))
    want = page_all(story_chain.hub, everything(base, OFFSETS))
    assert got == want and [i["type"] for i in got if i["source"] == "derived"].count(
        "notice.deadline_passed") == 2
    assert hub.schedule.covered_height == chain.height()
    with pytest.raises(HistoryPruned):
        page_all(hub, everything(base - 2, OFFSETS))


def test_live_walkers_and_backfillers_see_the_blocks_in_order_while_blocks_commit() -> None:
    sc = SynthChain(settings=StreamSettings(backfill_slice_blocks=3, cache_blocks=4))
    story = Story()

    async def reader(walk: Walk, stop_at: int, resume_every: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while True:
            sub = sc.hub.subscribe("test")
            frames = sc.hub.walk(sub, walk)
            n, parser = 0, SseParser()
            async for chunk in frames:
                for event in parser.feed(chunk):
                    if event.event == "message":
                        got.append(event.json())
                        n += 1
                if got and got[-1]["height"] >= stop_at:
                    await frames.aclose()
                    sc.hub.unsubscribe(sub)
                    return got
                if n >= resume_every:
                    break  # a reconnect: resume after the last item received
            await frames.aclose()
            sc.hub.unsubscribe(sub)
            walk = Walk(parse_cursor(got[-1]["cursor"]), walk.filter, walk.offsets_ms, 15_000)

    async def main() -> list[list[dict[str, Any]]]:
        t = sc.time_ms()
        for _ in range(6):
            sc.run([story.attest("a", t) for _ in range(3)])
        readers = [asyncio.create_task(reader(everything(offsets_ms=OFFSETS), 40, k))
                   for k in (1, 2, 1000)]
        readers.append(asyncio.create_task(
            reader(Walk(end_key(sc.chain.height()), Filter(), OFFSETS, 15_000), 40, 3)))
        for h in range(7, 41):
            await asyncio.sleep(0.001)
            if h == 8:
                issue = sc.time_ms() + 1
                sc.run([story.announce("L-1", issue, issue + 21 * DAY_MS)], at_ms=issue)
            else:
                sc.run([story.attest("b", t)], at_ms=sc.time_ms() + DAY_MS)
        return list(await asyncio.wait_for(asyncio.gather(*readers), 20))

    results = asyncio.run(main())
    want = expected_items(sc.store, OFFSETS)
    for got in results[:3]:
        assert as_expected(got) == want
    assert as_expected(results[3]) == [w for w in want if int(w[0].split(".")[0]) > 6]
    assert any(w[1] == "notice.deadline_passed" for w in want)


def test_a_cursor_far_ahead_of_the_chain_is_refused() -> None:
    sc = SynthChain(settings=StreamSettings(cursor_ahead_max_blocks=10))
    sc.hub.check_start(end_key(10))
    with pytest.raises(LookupError, match="ahead"):
        sc.hub.check_start(end_key(11))


def test_reading_the_store_is_budgeted_per_caller(story_chain: SynthChain) -> None:
    sc = story_chain.restart(StreamSettings(reads_per_s_per_caller=20))  # nothing cached
    walk = everything(offsets_ms=OFFSETS)
    first, after = sc.hub.page(walk, 1_000, caller="greedy")
    assert after[0] < sc.chain.height()  # stopped at its budget: 20 blocks + events
    assert after[0] <= 20
    again, after2 = sc.hub.page(Walk(after, Filter(), OFFSETS, 15_000), 1_000, "greedy")
    assert again == [] and after2 == after  # no tokens left: no work done
    # another caller has its own budget; blocks already prepared cost nothing
    other, _ = sc.hub.page(walk, 1_000, caller="other")
    assert [i.cursor for i in other[: len(first)]] == [i.cursor for i in first]
    time.sleep(0.3)  # a few tokens come back
    _, after3 = sc.hub.page(Walk(after, Filter(), OFFSETS, 15_000), 1_000, "greedy")
    assert after3 > after


# ---- reminders ----------------------------------------------------------------------------


def _notices(sc: SynthChain, offsets: tuple[int, ...]) -> list[tuple[int, str, int]]:
    return [(i["height"], i["type"], i["before_ms"]) for i in page_all(
        sc.hub, everything(offsets_ms=offsets, flt=parse_filter({"type": ["notice.dead*"]})))]


def test_reminders_fire_once_in_the_first_block_at_or_after_the_threshold() -> None:
    sc, story = SynthChain(), Story()
    times = tender_story(sc, story)
    deadline = times["deadline"]
    got = _notices(sc, OFFSETS)
    assert [g[1:] for g in got] == [("notice.deadline_soon", 3 * DAY_MS),
                                    ("notice.deadline_soon", HOUR_MS),
                                    ("notice.deadline_passed", 0)]
    for height, _, before in got:
        t_prev = sc.store.header(height - 1).time_ms  # type: ignore[union-attr]
        t = sc.store.header(height).time_ms  # type: ignore[union-attr]
        assert t_prev < deadline - before <= t
    # block 7 crossed the old deadline's 3-day threshold, but the amendment (block 6) had
    # replaced that deadline: only the new schedule counts
    assert [h for h, _, _ in got] == [9, 10, 11]
    # other offsets, chosen by the reader: computed from the same chain
    assert [g[2] for g in _notices(sc, (10 * DAY_MS, 60_000))] == [10 * DAY_MS, 60_000, 0]


def test_a_threshold_already_past_when_the_deadline_is_set_never_fires() -> None:
    sc, story = SynthChain(), Story()
    t = sc.time_ms()
    sc.run([story.attest("tenderer", t)])
    issue = sc.time_ms() + 1
    sc.run([story.announce("P-1", issue, issue + 21 * DAY_MS)], at_ms=issue)
    sc.run([], at_ms=issue + 21 * DAY_MS - 2 * HOUR_MS)
    # 20 minutes before the deadline an amendment moves it 30 minutes later: the old
    # deadline's 1-hour threshold was crossed in this block (it fires, before the
    # amendment's event); the new deadline's 1-hour threshold is already past: it never fires
    sc.run([story.amend("P-1", issue + 21 * DAY_MS + 30 * 60_000)],
           at_ms=issue + 21 * DAY_MS - 20 * 60_000)
    sc.run([], at_ms=issue + 21 * DAY_MS + 31 * 60_000)
    assert _notices(sc, (HOUR_MS,)) == [(4, "notice.deadline_soon", HOUR_MS),
                                        (5, "notice.deadline_passed", 0)]
    block4 = [i["type"] for i in page_all(sc.hub, everything(3, (HOUR_MS,)))
              if i["height"] == 4]
    assert block4 == ["notice.deadline_soon", "tender.amended"]


def test_several_thresholds_crossed_in_one_block_come_in_threshold_order() -> None:
    sc, story = SynthChain(), Story()
    t = sc.time_ms()
    sc.run([story.attest("tenderer", t)])
    issue = sc.time_ms() + 1
    sc.run([story.announce("S-2", issue, issue + 21 * DAY_MS),
            story.announce("S-1", issue, issue + 21 * DAY_MS + 1)], at_ms=issue)
    sc.run([], at_ms=issue + 30 * DAY_MS)  # a long pause: everything at once
    items = page_all(sc.hub, everything(offsets_ms=OFFSETS))
    assert [(i["tender_id"], i["before_ms"]) for i in items if i["source"] == "derived"] == [
        ("S-2", 3 * DAY_MS), ("S-1", 3 * DAY_MS), ("S-2", HOUR_MS), ("S-1", HOUR_MS),
        ("S-2", 0), ("S-1", 0)]


def test_the_schedule_keeps_at_most_its_bound_and_says_what_it_forgot() -> None:
    s = TenderSchedule(versions_max=3)
    for h in range(1, 6):
        s.index_block(h, [(f"T{h}", 1_000 * h)])
    assert len(s) == 3 and s.forgotten_until_ms == 2_000
    assert s.deadline_at("T5", 5) == 5_000 and s.deadline_at("T1", 5) is None
    with pytest.raises(AssertionError):
        s.index_block(7, [])


def test_the_next_deadline_is_the_earliest_still_in_force() -> None:
    """What a validator wakes its replica for (``WakeAt``): a moved deadline's old value is
    not a deadline any more; one at or before the given time is behind."""
    s = TenderSchedule()
    s.index_block(1, [("A", 5_000), ("B", 9_000)])
    assert s.next_deadline_after(0) == 5_000
    assert s.next_deadline_after(5_000) == 9_000  # A's is reached: B's is next
    s.index_block(2, [("A", 12_000)])  # A's deadline moved later (an amendment)
    assert s.next_deadline_after(0) == 9_000
    assert s.next_deadline_after(9_000) == 12_000
    assert s.next_deadline_after(12_000) is None


# ---- proofs -------------------------------------------------------------------------------


def test_every_item_comes_with_a_proof_that_checks_offline(story_chain: SynthChain) -> None:
    anchor = anchor_of(story_chain.doc)
    items = page_all(story_chain.hub, everything(offsets_ms=OFFSETS))
    assert len(items) > 10
    for item in items:
        doc = build_proof(story_chain.hub, parse_cursor(item["cursor"]))
        doc = json.loads(json.dumps(doc))  # as it travels
        assert doc["item"] == item
        check = check_proof(doc, anchor)
        assert check.ok, (item["cursor"], check.problems)


def test_a_changed_item_fails_its_proof(story_chain: SynthChain) -> None:
    anchor = anchor_of(story_chain.doc)
    items = page_all(story_chain.hub, everything(offsets_ms=OFFSETS))
    event = next(i for i in items if i["type"] == "tender.amended")
    doc = json.loads(json.dumps(build_proof(story_chain.hub, parse_cursor(event["cursor"]))))
    doc["item"]["event"]["deadline_ms"] += 1
    assert "the receipt's event differs" in " ".join(check_proof(doc, anchor).problems)
    notice = next(i for i in items if i["type"] == "notice.deadline_soon")
    doc = json.loads(json.dumps(build_proof(story_chain.hub, parse_cursor(notice["cursor"]))))
    doc["item"]["threshold_ms"] -= 1
    assert not check_proof(doc, anchor).ok
    doc = json.loads(json.dumps(build_proof(story_chain.hub, parse_cursor(notice["cursor"]))))
    doc["before"], doc["at"] = doc["at"], doc["before"]
    assert not check_proof(doc, anchor).ok


def test_an_item_cannot_say_more_than_its_proof_shows(story_chain: SynthChain) -> None:
    """User walk: a bid.revealed item's tender, call, cursor or entities could be changed and
    the item still verified (a revealed price moved to another tender). What the bundles show
    is checked; what they cannot show (the subjects from other records) is listed apart."""
    anchor = anchor_of(story_chain.doc)
    items = page_all(story_chain.hub, everything(offsets_ms=OFFSETS))
    event = next(i for i in items if i["source"] == "chain" and i["tender_id"]
                 and i["type"] != "tender.announced")
    doc = json.loads(json.dumps(build_proof(story_chain.hub, parse_cursor(event["cursor"]))))
    good = check_proof(doc, anchor)
    assert good.ok and any("rank" in u for u in good.unproven), good
    height, rank, index = event["cursor"].split(".")
    for field, value in (("tender_id", "OTHER"), ("call", "bid.submit"),
                         ("cursor", f"{int(height) + 1}.{rank}.{index}"),
                         ("cursor", f"{height}.{rank}.{int(index) + 1}"),
                         ("cursor", f"{height}.999.{index}"), ("cursor", "junk")):
        bad = json.loads(json.dumps(doc))
        bad["item"][field] = value
        check = check_proof(bad, anchor)
        assert not check.ok, (field, value)
    named = next(i for i in items if i["type"] == "identity.attested")
    doc = json.loads(json.dumps(build_proof(story_chain.hub, parse_cursor(named["cursor"]))))
    assert check_proof(doc, anchor).ok and named["event"]["uscc"] in named["entities"]
    doc["item"]["entities"] = []
    assert "whom the event names" in " ".join(check_proof(doc, anchor).problems)
    for kind in ("notice.deadline_soon", "notice.deadline_passed"):
        notice = next(i for i in items if i["type"] == kind)
        doc = json.loads(json.dumps(build_proof(story_chain.hub,
                                                parse_cursor(notice["cursor"]))))
        good = check_proof(doc, anchor)
        assert good.ok and any("regions" in u for u in good.unproven), good
        for field, value in (("cursor", notice["cursor"].replace(
                f".{notice['tender_id']}", ".OTHER")), ("tender_id", "OTHER")):
            bad = json.loads(json.dumps(doc))
            bad["item"][field] = value
            assert not check_proof(bad, anchor).ok, (kind, field)


def test_no_item_at_a_cursor_that_names_none(story_chain: SynthChain) -> None:
    for text in ("3.2.0", "3.0.5", "9.n.1.T-1", "99999.0.0"):
        with pytest.raises(LookupError):
            build_proof(story_chain.hub, parse_cursor(text))
    with pytest.raises(InvalidInput):
        build_proof(story_chain.hub, parse_cursor("3"))


# ---- subscriptions ------------------------------------------------------------------------


def test_caps_per_caller_and_per_node() -> None:
    sc = SynthChain(settings=StreamSettings(subscribers_per_caller_max=2, subscribers_max=3))
    a1, a2 = sc.hub.subscribe("a"), sc.hub.subscribe("a")
    with pytest.raises(Exception, match="per caller") as refused:
        sc.hub.subscribe("a")
    assert getattr(refused.value, "status", None) == 429
    sc.hub.subscribe("b")
    with pytest.raises(Exception, match="at most 3 streams") as full:
        sc.hub.subscribe("c")
    assert getattr(full.value, "status", None) == 503
    sc.hub.unsubscribe(a1)
    assert isinstance(sc.hub.subscribe("a"), Subscription)
    del a2

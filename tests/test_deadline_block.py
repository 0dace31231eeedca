"""A tender's bids are opened at its deadline (Bidding Law art. 34: the opening is at the bid
deadline), and the chain learns the time only from a block's header: an idle chain wrote one
only at its heartbeat (5 minutes by default), so ``bid.open`` and the slot listing waited up
to that long after the deadline. A validator now tells its replica the next deadline
(``WakeAt``) and the leader proposes a block then.

One real validator node serves a demo chain whose heartbeat is set to a minute; a tender's
deadline falls a few seconds after the node starts. A block whose time reaches the deadline
must come within about a second of it."""

from __future__ import annotations

import time
from pathlib import Path

from consensus.api import ReplicaConfig
from contracts.scenario_kit import DEMO_DAY_MS, _Story
from shell.client import NodeClient
from tests.browser.demochain import ChainClient, build_demo_chain, serve


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_block_comes_at_a_tender_deadline_not_at_the_heartbeat(tmp_path: Path) -> None:
    demo = build_demo_chain()
    client = ChainClient(demo.chain, demo.secret, demo.chain.store.head_header().time_ms)
    story = _Story(client, lambda _line: None, {})
    uscc = demo.summary["uscc"]
    deadline = wall_ms() + 6_000  # a few seconds after the node is up
    issue = deadline - 21 * DEMO_DAY_MS  # the chain's head is days behind the wall clock
    assert client.now_ms() < issue
    story.send("platform", "tender.announce", {
        "tender_id": "WAKE-1", "rules": "bidding-law", "kind": "goods", "region": "441500",
        "tenderer": uscc["tenderer"], "agent": "", "platform_uscc": uscc["operator"],
        "related_parties": [], "doc_hash": bytes(32), "issue_start_ms": issue,
        "doc_sale_end_ms": issue + 5 * DEMO_DAY_MS, "deadline_ms": deadline,
        "validity_days": 60, "qualifications": [],
        "lots": [{"name": "lot 1", "estimated_price_fen": 100_000_000,
                  "guarantee_fen": 1_000_000}]})
    minute = ReplicaConfig(empty_block_ticks=6_000)  # 10 ms ticks: a heartbeat a minute
    with serve(demo, tmp_path / "anchor.json", replica=minute) as served:
        node = NodeClient(served.url)
        reached = None
        while wall_ms() < deadline + 5_000 and reached is None:
            head = node.status()["height"]
            if node.header(int(head)).time_ms >= deadline:
                reached = wall_ms()
            time.sleep(0.05)
        assert reached is not None, "no block reached the deadline within 5 s"
        late_ms = reached - deadline
        assert late_ms < 1_500, f"the block came {late_ms} ms after the deadline"
        # and nothing more is woken for: the chain is idle again until its heartbeat
        height = int(node.status()["height"])
        time.sleep(1.0)
        assert int(node.status()["height"]) == height

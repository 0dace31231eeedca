"""The answers a verifier and the public ask for over HTTP: eligibility with its proof, and
public exposure of sanctions in force, on a real store behind the node's API."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from contracts.eligibility import verify_answer
from ledger.genesis import export_anchor
from shell.api import build_app
from tests.test_privacy import node_of, replay
from tests.trading_kit import REGION, Trading


def world() -> Trading:
    t = Trading()
    t.announce()
    t.entity("good")
    t.entity("bad")
    t.credit("bad", "bid_debarment")
    t.entity("local")  # debarred only in another region
    t.credit("local", "bid_debarment", scope_regions=["440300"])
    return t


async def _get(node: Any, targets: list[str]) -> list[tuple[int, Any]]:
    out = []
    async with TestClient(TestServer(build_app(node, node.guard))) as client:
        for target in targets:
            resp = await client.get(target)
            out.append((resp.status, await resp.json()))
    return out


def test_eligibility_over_http_verifies_offline() -> None:
    t = world()
    chain = replay(t)
    node = node_of(chain, t)
    try:
        got = asyncio.run(_get(node, [f"/eligibility/{t.uscc_of[n]}?tender=T1&lot=1"
                                      for n in ("good", "bad", "local")]
                               + ["/eligibility/X?tender=T1", "/eligibility/"
                                  f"{t.uscc_of['good']}", "/eligibility/"
                                  f"{t.uscc_of['good']}?tender=T1&lot=x"]))
    finally:
        node.admission.close()
    anchor = export_anchor(chain.store)
    verdicts = []
    for status, body in got[:3]:
        assert status == 200
        answer = body.pop("answer")
        _, offline = verify_answer(body, anchor)
        assert offline.to_obj() == answer
        verdicts.append(answer["eligible"])
    # the tender is in region 441500: a debarment scoped to 440300 does not reach it
    assert verdicts == [True, False, True]
    assert got[3][0] == 200 and got[3][1]["answer"]["reasons"][0]["reason"] == "bad_uscc"
    assert got[4][0] == 400 and "tender" in got[4][1]["error"]
    assert got[5][0] == 400


def test_exposure_lists_sanctions_in_force_with_filters_and_pages() -> None:
    t = world()
    chain = replay(t)
    node = node_of(chain, t)
    bad, local = t.uscc_of["bad"], t.uscc_of["local"]
    try:
        got = asyncio.run(_get(node, [
            "/exposure", f"/exposure?uscc={bad}", f"/exposure?region={REGION}",
            "/exposure?region=440300", "/exposure?limit=1", f"/exposure?uscc={t.uscc_of['good']}",
            "/exposure?kind=no_such_kind", "/exposure?limit=-1", "/exposure?cursor=abc",
            "/exposure?uscc=NOT-A-USCC"]))
    finally:
        node.admission.close()
    statuses = [s for s, _ in got]
    assert statuses[:6] == [200] * 6 and all(400 <= s < 500 for s in statuses[6:]), got
    who = [sorted(r["uscc"] for r in body["records"]) for _, body in got[:6]]
    assert who[0] == sorted([bad, local])
    assert who[1] == [bad]
    assert who[2] == [bad]  # local's debarment does not cover the tender's region
    assert who[3] == sorted([bad, local])  # bad's scope is every region
    assert len(who[4]) == 1 and got[4][1]["next_cursor"] is not None
    assert who[5] == []
    for _, body in got[6:]:
        assert body["error"]

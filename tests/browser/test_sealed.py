"""Before a tender's deadline the portal shows nothing of its bids (DOMAIN.md step 4), on any
page and in any verify panel: the demo chain has two tenders taking bids, alike but for their
ids, one with three sealed bids and one with none — every page about them must read the
same once the ids and clocks are taken out, and no bidder is named anywhere."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.demochain import Served, entity_name
from tests.browser.pagekit import get, pin_anchor, verify, verify_all

_CLOCKS = (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00"),  # Beijing times
           re.compile(r"\b1[0-9]{12}\b"),  # ms timestamps in proven records
           re.compile(r"(Read at block|数据读取自区块)\D*\d+"),
           re.compile(r"Block height\s+\d+"),
           re.compile(r"Nonce\s+\d+"),  # the platform announced the two one after the other
           re.compile(r"\b[0-9a-f]{16,64}…?"),  # hashes of blocks and records
           re.compile(r"\d+(\.\d+)? ms"))


def _same(text: str, *ids: str) -> str:
    for tid in ids:
        text = text.replace(tid, "TENDER")
    for clock in _CLOCKS:
        text = clock.sub("CLOCK", text)
    return text


def test_a_tender_page_before_its_deadline_is_the_same_with_bids_or_without(
        served_ed: Served, context: Any) -> None:
    demo = served_ed.demo
    with_bids, without = demo.open_tender, demo.empty_tender
    pages = {}
    for tid in (with_bids, without):
        status, html, _ = get(f"{served_ed.url}/portal/tender/{tid}")
        assert status == 200
        pages[tid] = _same(html, with_bids, without)
    assert pages[with_bids] == pages[without]
    html = pages[with_bids]
    for bidder in demo.open_bidders:
        assert bidder not in html
    for name in ("a", "b", "c"):
        assert entity_name(name) not in html
    assert "Bids named at opening" not in html and "Opening record" not in html


def test_the_verify_panels_of_an_open_tender_withhold_the_bid_counts(
        served_ed: Served, context: Any) -> None:
    demo = served_ed.demo
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    texts = {}
    for tid in (demo.open_tender, demo.empty_tender):
        page.goto(f"{served_ed.url}/portal/tender/{tid}")
        results = verify_all(page)
        states = [r["state"] for r in results]
        assert states[0] == "present" and states[-1] == "multi"
        assert set(states[1:-1]) == {"tx", "present"}  # its transactions, the objection
        record = results[0]["text"]
        assert "Not shown before the bid deadline: lots[0].bids" in record
        assert "Not shown before the bid deadline: lots[0].bids" in results[-1]["text"]
        for shown in (results[0], results[-1]):
            assert "lots" in shown["fields"] and "bids" not in shown["fields"]
        texts[tid] = _same(page.inner_text("main"), demo.open_tender, demo.empty_tender)
    assert texts[demo.open_tender] == texts[demo.empty_tender]


def test_no_page_names_a_bidder_or_its_guarantee_before_the_deadline(
        served_ed: Served, context: Any) -> None:
    demo = served_ed.demo
    open_ = demo.open_tender
    issue = open_.rsplit("-", 1)[1]
    for path in ("/portal/", "/portal/exposure", *(f"/portal/entity/{u}"
                                                   for u in demo.open_bidders)):
        status, html, _ = get(served_ed.url + path)
        assert status == 200
        assert f"BG-OPEN-{issue}" not in html, path
    # Guarantee check by number (验真) works before the deadline, and a guarantee a bid binds
    # reads exactly like one no bid binds, on the page and in its verify panels.
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    u = demo.summary["uscc"]
    seen = {}
    for number, other in ((f"BG-OPEN-{issue}-a", u["a"]), (f"BG-NONE-{issue}-d", u["d"])):
        page.goto(f"{served_ed.url}/portal/guarantee?number={number}")
        results = [verify(page, box) for box in page.locator("div.verify").all()]
        assert [r["state"] for r in results] == ["present", "multi"]
        assert "已开立 issued" in page.inner_text("main")
        assert "status" in results[0]["fields"] and "amount_fen" in results[0]["fields"]
        text = page.inner_text("main") + "".join(r["text"] for r in results)
        seen[number] = _same(text, number, other, open_, demo.empty_tender)
    assert seen[f"BG-OPEN-{issue}-a"] == seen[f"BG-NONE-{issue}-d"]


def test_after_the_deadline_the_opening_is_shown(served_ed: Served, context: Any) -> None:
    """The same pages do show bids once they are public: the checks above can fail."""
    demo = served_ed.demo
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    page.goto(f"{served_ed.url}/portal/tender/{demo.summary['tender_id']}")
    shown = verify(page, page.locator("div.verify").first)
    assert "bids" in shown["fields"] and "Not shown" not in shown["text"]
    page.goto(f"{served_ed.url}/portal/guarantee?number={demo.summary['claimed']}")
    shown = verify(page, page.locator("div.verify").first)
    assert "status" in shown["fields"] and "claimed" in shown["text"]
    status, html, _ = get(f"{served_ed.url}/portal/tender/{demo.summary['tender_id']}")
    assert status == 200
    assert "Opening record" in html and "Bids named at opening" in html
    assert demo.summary["uscc"]["a"] in html
    status, html, _ = get(f"{served_ed.url}/portal/entity/{demo.summary['uscc']['a']}")
    assert f"BG-{demo.summary['tender_id'].rsplit('-', 1)[1]}-a" in html

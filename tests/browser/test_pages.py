"""Each portal page renders in Chromium on a demo chain of each suite — with what it must show,
no script error, in under a second — and is usable by keyboard and screen reader; a record
whose text is markup shows as text. Screenshots of the main pages go to
``shell/web/screenshots/``; page load times go to the session's figures."""

from __future__ import annotations

import statistics
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.demochain import XSS_BASIS, XSS_NAME, Served, entity_name
from tests.browser.pagekit import Watch, get, load_ms, pin_anchor, screenshot, verify

LOADS_PER_PAGE = 3
PAGE_LOAD_LIMIT_MS = 1000.0


def _pages(s: Served) -> list[tuple[str, str, list[str]]]:
    """(name, path, texts the page must show) of every main page."""
    summary, u = s.demo.summary, s.demo.summary["uscc"]
    tender = summary["tender_id"]
    return [
        ("tenders", "/portal/", [tender, s.demo.open_tender, "招标公告", "Tender announcements"]),
        ("tender", f"/portal/tender/{tender}",
         ["Tender announced", "Objection 1", "Reply to objection 1", "Opening record",
          "Candidates' publicity", "Award notice", "Contract recorded", "Archived",
          entity_name("b"), "+08:00", "4,680,000.00 元"]),
        ("tender-open", f"/portal/tender/{s.demo.open_tender}",
         ["Bid deadline (opening time)", "nothing about them", "Amendment 1", "Objection 1",
          "Ruling on objection 1", "dismissed", "Suspended by a supervisor", "Resumed"]),
        ("entity", f"/portal/entity/{u['b']}", [entity_name("b"), "Attestation", "Guarantees"]),
        ("entity-sanctioned", f"/portal/entity/{u['e']}", ["禁止投标", "Sanctions in force"]),
        ("exposure", "/portal/exposure", [u["e"], "禁止投标", "serious breach"]),
        ("guarantee", f"/portal/guarantee?number={quote(summary['claimed'])}",
         ["已索赔", "claimed", "50,000.00 元"]),
        ("offline", "/portal/offline", ["Offline check", "Drop the bundle file"]),
        ("anchor", "/portal/anchor", ["Trust anchor", "Pinned in this browser"]),
    ]


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_every_page_renders_with_its_content_fast_and_without_script_errors(
        suite: str, request: pytest.FixtureRequest, context: Any, figures: Any) -> None:
    served: Served = request.getfixturevalue("served_ed" if suite == "ed25519-sha256"
                                             else "served_sm")
    page = context.new_page()
    watch = Watch(page)
    pin_anchor(page, served.url, served.anchor_path)
    for name, path, texts in _pages(served):
        times = []
        for _ in range(LOADS_PER_PAGE):
            response = page.goto(served.url + path)
            assert response is not None and response.status == 200, (path, response)
            page.wait_for_load_state("load")
            times.append(load_ms(page))
        body = page.inner_text("body")
        for text in texts:
            assert text in body, f"{path} does not show {text!r}"
        assert page.get_attribute("html", "lang") == "zh-CN"
        # The pinned anchor is named in the header: the module graph ran.
        page.wait_for_selector("#anchor-status.pinned")
        median = statistics.median(times)
        figures.add(f"page load {suite} {name}", median)
        assert median < PAGE_LOAD_LIMIT_MS, f"{path} took {median:.0f} ms to load"
        if suite == "ed25519-sha256":
            screenshot(page, name)
    assert watch.errors == []


def test_a_verified_record_is_screenshotted_with_its_panel(served_ed: Served,
                                                          context: Any) -> None:
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    page.goto(f"{served_ed.url}/portal/tender/{served_ed.demo.summary['tender_id']}")
    box = page.locator("div.verify").first
    assert verify(page, box)["state"] == "present"
    path = screenshot(page, "tender-verified", page.locator("#announcement").locator(".."))
    assert path.stat().st_size > 10_000


def test_the_tender_list_searches_by_kind_region_and_date(served_ed: Served,
                                                          context: Any) -> None:
    page = context.new_page()
    demo = served_ed.demo
    archived, open_ = demo.summary["tender_id"], demo.open_tender
    page.goto(served_ed.url + "/portal/")
    page.select_option("#f-kind", "goods")
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    assert "kind=goods" in page.url
    rows = page.inner_text("table.tenders tbody")
    assert open_ in rows and demo.empty_tender in rows and archived not in rows
    page.fill("#f-region", "441502")
    page.select_option("#f-kind", "")
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    rows = page.inner_text("table.tenders tbody")
    assert archived in rows and open_ not in rows
    # Announced "from" the day after every tender: nothing; the form keeps what was asked.
    page.goto(served_ed.url + "/portal/?from=2999-01-01")
    assert "No tender matches" in page.inner_text("main")
    assert page.input_value("#f-from") == "2999-01-01"


def test_markup_in_a_record_is_shown_as_text_and_never_runs(served_ed: Served,
                                                            context: Any) -> None:
    page = context.new_page()
    watch = Watch(page)
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    url = f"{served_ed.url}/portal/entity/{served_ed.demo.xss_uscc}"
    status, html, _ = get(url)
    assert status == 200
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned" in html
    page.goto(url)
    assert XSS_NAME in page.inner_text("h1")
    assert XSS_BASIS in page.inner_text("main")
    # The verify panel writes the proven record (the same text) into the page too.
    results = [verify(page, box) for box in page.locator("div.verify").all()]
    assert {r["state"] for r in results} <= {"present", "absent", "multi"}
    assert XSS_NAME in results[0]["text"]
    assert page.evaluate("window.__pwned") is None
    page.goto(served_ed.url + "/portal/exposure")
    assert XSS_BASIS in page.inner_text("main")
    assert page.evaluate("window.__pwned") is None
    assert watch.errors == []


def test_pages_are_labelled_and_work_by_keyboard(served_ed: Served, context: Any) -> None:
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    for path in ("/portal/", "/portal/exposure", "/portal/guarantee", "/portal/offline",
                 "/portal/anchor"):
        page.goto(served_ed.url + path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                 .filter((c) => c.type !== 'hidden' && !c.getAttribute('aria-label')
                   && !(c.id && document.querySelector(`label[for="${c.id}"]`))
                   && !c.closest('label'))
                 .map((c) => c.outerHTML)""")
        assert unlabelled == [], path
        english = page.evaluate(
            "() => [...document.querySelectorAll('.en')].every((e) => e.lang === 'en')")
        assert english, path
    # The first Tab reaches the skip link; Enter on a verify button runs it.
    page.goto(f"{served_ed.url}/portal/tender/{served_ed.demo.summary['tender_id']}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    box = page.locator("div.verify").first
    box.locator("button").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("(el) => el.dataset.state === 'present'",
                           arg=box.element_handle())

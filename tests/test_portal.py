"""The portal without a browser: HTML escaping, what a URL may say (a clear 400 page),
unknown things (404), headers and assets, the switch that turns it off, the reads it makes
(sealed keys refused, bounded scans with cursors that miss nothing), the exposure list, the
tender transaction index and the committee hook — on the demo chain served by a real node
(``tests/browser/demochain.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts import sealing
from contracts.scenario_kit import bidder_secret
from shell.api import openapi
from shell.config import NodeLimits
from shell.portal import exposure as exposure_module
from shell.portal import inputs, tenders
from shell.portal.layout import verify_action
from shell.portal.markup import Markup, el, join
from shell.portal.reads import PortalReader, SealedRecord
from shell.portal.txindex import TxIndex
from tests.browser.demochain import XSS_NAME, DemoChain, Served, build_demo_chain, serve
from tests.browser.pagekit import get


@pytest.fixture(scope="module")
def demo() -> DemoChain:
    return build_demo_chain("ed25519-sha256")


@pytest.fixture(scope="module")
def served(demo: DemoChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(demo, tmp_path_factory.mktemp("portal") / "anchor.json") as s:
        yield s


# ---- markup ---------------------------------------------------------------------------------


def test_text_and_attributes_are_escaped_and_names_are_checked() -> None:
    out = el("p", {"title": '"><script>x</script>', "data-x": "a&b"}, "<b>hi</b>", 3, None,
             ["<i>", el("em", None, "ok")])
    assert out == ('<p title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;" data-x="a&amp;b">'
                   "&lt;b&gt;hi&lt;/b&gt;3&lt;i&gt;<em>ok</em></p>")
    assert join("<", Markup("<br>")) == "&lt;<br>"
    with pytest.raises(ValueError):
        el("p onclick=x")
    with pytest.raises(ValueError):
        el("p", {"onclick=x y": "1"})
    with pytest.raises(ValueError):
        el("br", None, "child")


def test_a_verify_action_carries_what_it_must_prove() -> None:
    from shell.portal.layout import multi_proof, state_proof

    html = verify_action(state_proof("tender/T-1", ["lots.*.bids"]), "the <tender>")
    assert 'data-url="/proof/tender/T-1"' in html and 'data-expect="tender/T-1"' in html
    assert 'data-withhold="{&quot;tender/T-1&quot;: [&quot;lots.*.bids&quot;]}"' in html
    assert "the &lt;tender&gt;" in html
    multi = multi_proof(["z/1", "a/2", "a/2"])
    assert multi.url == "/proofs?key=a%2F2&key=z%2F1" and multi.expect == "a/2\nz/1"


# ---- inputs ---------------------------------------------------------------------------------


def test_inputs_refuse_what_the_contracts_would_refuse() -> None:
    assert inputs.uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    for bad in ("91350100M000100Y44", "123", ""):
        with pytest.raises(inputs.BadRequest, match="unified social credit code"):
            inputs.uscc(bad)
    assert inputs.record_id("SW-1.a_b", "id") == "SW-1.a_b"
    for bad in ("", "a/b", "x" * 65, "<x>"):
        with pytest.raises(inputs.BadRequest):
            inputs.record_id(bad, "id")
    assert inputs.day_start_ms("2026-01-01", "from") == 1767196800000  # 00:00 +08:00
    assert inputs.day_end_ms("2026-01-01", "to") - inputs.day_start_ms("2026-01-01", "to") \
        == 86_400_000
    for bad in ("2026-13-01", "2026-02-30", "26-1-1", "yesterday"):
        with pytest.raises(inputs.BadRequest):
            inputs.day_start_ms(bad, "from")
    with pytest.raises(inputs.BadRequest, match="unknown parameter"):
        inputs.single({"nope": "1"}, ("kind",))
    from multidict import MultiDict

    with pytest.raises(inputs.BadRequest, match="given twice"):
        inputs.single(MultiDict([("kind", ""), ("kind", "goods")]), ("kind",))


# ---- pages over HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "reason"), [
    ("/portal/tender/bad%21id", "a tender id must be"),
    ("/portal/entity/12345", "not a valid unified social credit code"),
    ("/portal/entity?uscc=", "give an entity"),
    ("/portal/?kind=spaceships", "kind must be one of"),
    ("/portal/?from=2026-02-30", "is not a calendar date"),
    ("/portal/?to=tomorrow", "must be a date"),
    ("/portal/?region=" + "x" * 40, "a region is 1-32 characters"),
    ("/portal/?kind=goods&kind=works", "given twice"),
    ("/portal/?bogus=1", "unknown parameter"),
    ("/portal/?after=%3Cscript%3E", "after must be"),
    ("/portal/exposure?kind=qualification", "kind must be one of"),
    ("/portal/exposure?after=-1", "after must be a number"),
    ("/portal/exposure?uscc=91350100M000100Y44", "not a valid unified social credit code"),
    ("/portal/guarantee?number=%3Cscript%3E", "a guarantee number must be"),
    ("/portal/tender/SW-1?x=1", "unknown parameter"),
])
def test_bad_input_is_a_400_page_saying_why(served: Served, path: str, reason: str) -> None:
    status, html, headers = get(served.url + path)
    assert status == 400, html
    assert headers["Content-Type"].startswith("text/html")
    assert reason in html.replace("&#x27;", "'")
    assert "<script>" not in html


def test_unknown_things_are_404_pages(served: Served) -> None:
    status, html, _ = get(served.url + "/portal/tender/NO-SUCH-TENDER")
    assert status == 404 and "no tender" in html.replace("&#x27;", "'")
    status, html, _ = get(served.url + "/portal/entity/91350100M000100Y43")
    assert status == 404 and "no attestation or credit record" in html


def test_an_unknown_guarantee_number_says_so_and_offers_the_proof_of_absence(
        served: Served) -> None:
    status, html, _ = get(served.url + "/portal/guarantee?number=NO-SUCH-1")
    assert status == 200 and "No guarantee numbered NO-SUCH-1" in html
    assert 'data-url="/proof/guarantee/NO-SUCH-1"' in html


def test_pages_and_assets_carry_their_types_and_a_strict_policy(served: Served) -> None:
    status, _, headers = get(served.url + "/portal/")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    status, js, headers = get(served.url + "/portal/js/verify/index.mjs")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "export async function verifyBundle" in js
    import urllib.request

    req = urllib.request.Request(served.url + "/portal/js/verify/index.mjs",
                                 headers={"If-None-Match": headers["ETag"]})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as e:
        assert e.code == 304
    for missing in ("/portal/js/nope.mjs", "/portal/js/sw-body.js", "/portal/static/..%2Fx"):
        assert get(served.url + missing)[0] == 404


def test_the_service_worker_keeps_exactly_what_the_offline_page_loads(served: Served) -> None:
    status, sw, headers = get(served.url + "/portal/sw.js")
    assert status == 200 and headers["Service-Worker-Allowed"] == "/portal/"
    assets = json.loads(re.search(r"const ASSETS = (\[.*\]);", sw).group(1))  # type: ignore
    assert "/portal/offline" in assets and "/portal/js/offline.mjs" in assets
    assert "/portal/js/verify/sm2.mjs" in assets
    for asset in assets:
        assert get(served.url + asset)[0] == 200, asset
    _, offline, _ = get(served.url + "/portal/offline")
    for src in re.findall(r'src="([^"]+)"', offline):
        assert src in assets


def test_the_portal_is_in_the_openapi_document_and_redirects_its_root(served: Served) -> None:
    paths = openapi()["paths"]
    for path in ("/portal/", "/portal/tender/{tender_id}", "/portal/entity/{uscc}",
                 "/portal/exposure", "/portal/guarantee", "/portal/offline"):
        assert "get" in paths[path]
    import urllib.request

    with urllib.request.urlopen(served.url + "/portal") as r:
        assert r.url.endswith("/portal/")
    with urllib.request.urlopen(served.url + "/portal/entity?uscc=91441500ma0000011c") as r:
        assert r.url.endswith("/portal/entity/91441500MA0000011C")


@dataclass(frozen=True, slots=True)
class _PortalOff(NodeLimits):
    portal_enabled: int = 0


def test_the_setting_turns_the_portal_off_and_leaves_the_api(demo: DemoChain,
                                                            tmp_path: Path) -> None:
    with serve(demo, tmp_path / "anchor.json", limits=_PortalOff(tick_ms=10)) as s:
        for path in ("/portal/", "/portal/offline", "/portal/js/portal.mjs", "/portal/sw.js",
                     f"/portal/tender/{demo.summary['tender_id']}"):
            status, text, _ = get(s.url + path)
            assert status == 404 and "portal_enabled = 0" in text, path
        assert get(s.url + "/status")[0] == 200


# ---- reads ----------------------------------------------------------------------------------


def test_sealed_bid_records_are_refused_before_the_deadline_and_read_after(
        demo: DemoChain) -> None:
    reader = PortalReader(demo.chain)
    suite, chain_id = demo.chain.suite, demo.chain.chain_id
    uscc_a = demo.open_bidders[0]
    slot = sealing.slot(suite, chain_id, demo.open_tender, 1, uscc_a, bidder_secret("a"))
    sealed = f"bid/{demo.open_tender}/1/{slot.hex()}"
    with pytest.raises(SealedRecord, match="sealed until the tender.s bid deadline"):
        reader.get(sealed)
    assert demo.chain.state_value(sealed) is not None  # it is there: the reader refused it
    assert reader.scan(f"bid/{demo.open_tender}/", None, 100, 100).items == []
    assert reader.scan(f"bidset/{demo.open_tender}/", None, 100, 100).items == []
    opened = reader.scan(f"bid/{demo.summary['tender_id']}/", None, 100, 100)
    # after the deadline the same scan reads the four bids and their guarantees' bindings
    assert sorted(k.split("/")[2] for k, _ in opened.items) == ["1"] * 4 + ["guarantee"] * 4


def test_the_tender_listing_pages_through_every_tender_once(demo: DemoChain,
                                                           monkeypatch: Any) -> None:
    reader = PortalReader(demo.chain)
    everything = tenders.list_tenders(reader, tenders.TenderQuery())
    ids = [tid for tid, _ in everything.rows]
    assert ids == sorted(ids) and len(ids) == 3 and everything.next_after is None
    for size, scan in ((1, 5_000), (2, 5_000), (20, 2)):
        monkeypatch.setattr(tenders, "PAGE_SIZE", size)
        monkeypatch.setattr(tenders, "SCAN_MAX", scan)
        seen: list[str] = []
        after = None
        for _ in range(100):
            page = tenders.list_tenders(reader, tenders.TenderQuery(after=after))
            seen += [tid for tid, _ in page.rows]
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == ids, (size, scan)


def test_the_exposure_list_holds_the_sanctions_in_force_and_pages_through_them(
        demo: DemoChain, served: Served) -> None:
    reader = PortalReader(demo.chain)
    full = exposure_module.exposure_page(reader, limit=50)
    listed = {(r["uscc"], r["kind"]) for r in full.records}
    u = demo.summary["uscc"]
    assert listed == {(u["e"], "bid_debarment"), (demo.xss_uscc, "serious_breach")}
    ids = {r["id"] for r in full.records}
    assert demo.extra["repaired"] not in ids and demo.extra["expired"] not in ids
    assert demo.extra["qualification"] not in ids  # in force, but no sanction
    by_region = exposure_module.exposure_page(reader, region="441502")
    assert len(by_region.records) == 2  # the debarment's scope is "*"
    assert [r["uscc"] for r in exposure_module.exposure_page(reader, region="110000").records] \
        == [u["e"]]
    # The page pages through them one by one with the query's cursor, missing none.
    seen: list[str] = []
    path = "/portal/exposure"
    for _ in range(10):
        _, html, _ = get(served.url + path)
        seen += re.findall(r'data-expect="credit/record/([0-9a-f]+)"', html)
        more = re.search(r'<p class="more"><a href="([^"]+)"', html)
        if more is None:
            break
        path = more.group(1).replace("&amp;", "&")
    assert sorted(seen) == sorted(ids)


def test_the_entity_page_sorts_records_in_force_from_the_rest(served: Served) -> None:
    demo = served.demo
    u = demo.summary["uscc"]
    _, html_a, _ = get(f"{served.url}/portal/entity/{u['a']}")
    quals = html_a.split('id="qualifications"')[1].split("</section>")[0]
    assert "建筑工程施工总承包 3" in quals
    _, html_d, _ = get(f"{served.url}/portal/entity/{u['d']}")
    in_force = html_d.split('id="sanctions"')[1].split("</section>")[0]
    history = html_d.split('id="history"')[1].split("</section>")[0]
    assert "serious breach" not in in_force and "serious breach" in history
    assert "Repaired" in history
    # a general breach in force is not filed with the ended records (user walk 2026-12-03)
    _, html_f, _ = get(f"{served.url}/portal/entity/{u['f']}")
    other = html_f.split('id="other"')[1].split("</section>")[0]
    ended = html_f.split('id="history"')[1].split("</section>")[0]
    assert "Other records in force" in other and "general breach" in other, other
    assert "general breach" not in ended and "tax violation" in ended, ended


def test_the_entity_bundle_holds_the_index_of_its_credit_records(served: Served) -> None:
    """The "all its records" §9 bundle proves the entity's credit index with its records, so
    a record left out (verifier walk: only the records were in it) shows against the index;
    the page points to credchain eligibility for "may it bid"."""
    import html as html_lib
    import urllib.parse

    u = served.demo.summary["uscc"]["d"]  # a debarred entity with several records
    _, page, _ = get(f"{served.url}/portal/entity/{u}")
    section = page.split('id="all-records"')[1].split("</section>")[0]
    url = html_lib.unescape(section.split('data-url="')[1].split('"')[0])
    keys = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["key"]
    assert f"credit/entity/{u}" in keys and f"id/entity/{u}" in keys
    from shell.client import NodeClient

    index = NodeClient(served.url).state(f"credit/entity/{u}")
    assert index and {f"credit/record/{rid}" for rid in index} <= set(keys)
    assert "credchain eligibility" in section and "judge offline whether it may bid" not in page


def test_the_guarantee_check_fails_a_released_or_claimed_guarantee_of_a_decided_tender(
        served: Served) -> None:
    """保函验真 showed every check green for a guarantee released at the award (verifier
    walk): "not released" and "its tender is still under way" are checks too, and
    the §9 bundle proves the tender's record beside the guarantee."""
    import html as html_lib

    claimed = served.demo.summary["claimed"]
    released = claimed.rsplit("-", 1)[0] + "-a"
    for number, failing in ((released, "✗ 未被释放 / not released"),
                            (claimed, "✗ 未被索赔 / not claimed")):
        _, page, _ = get(f"{served.url}/portal/guarantee?number={number}")
        text = html_lib.unescape(page)
        assert failing in text, number
        assert "✗ 所担保项目仍在招标中 / its tender is still under way (no award, not failed " \
            "or archived)" in text, number
        assert f"tender/{served.demo.summary['tender_id']}" in text  # in the §9 bundle's keys
    _, page, _ = get(f"{served.url}/portal/guarantee?number={released}")
    assert "Released" in page and "✓ 未被索赔 / not claimed" in html_lib.unescape(page)
    _, page, _ = get(f"{served.url}/portal/guarantee?number=")  # the form sent empty
    assert "Enter a guarantee number to check." in page and "No guarantee numbered" not in page


def test_the_opening_step_is_at_the_opening_not_at_the_opening_record(served: Served) -> None:
    """The portal dated "Opening" at the record's opened_ms, which is the close of the
    decryption window (verifier walk): it is the bid.open block's time."""
    import html as html_lib

    from ledger.verdict import beijing_time

    demo, tender = served.demo, served.demo.summary["tender_id"]
    store = demo.chain.store
    opened = next(store.header(h).time_ms for h in range(1, store.head()[0] + 1)  # type: ignore[union-attr]
                  if any(tx.body.call == "bid.open" and tx.body.args.get("tender_id") == tender
                         for tx in store.block(h).txs))  # type: ignore[union-attr]
    _, page, _ = get(f"{served.url}/portal/tender/{tender}")
    step = html_lib.unescape(page).split(" 开标 <span")[0].rsplit("<time>", 1)[1]
    assert step == f"{beijing_time(opened)}</time>", step


def test_the_tender_index_holds_the_tenders_side_and_never_a_bid(demo: DemoChain) -> None:
    index = TxIndex(demo.chain)
    assert index.catch_up(max_blocks=3) > 0  # bounded: the rest waits for the next page
    while index.catch_up(max_blocks=50):
        pass
    calls = [e.call for e in index.of_tender(demo.summary["tender_id"])]
    assert calls[0] == "tender.announce" and calls[-1] == "tender.archive"
    assert {"tender.object", "tender.reply", "bid.open", "bid.close", "tender.award",
            "draw.request", "draw.seat", "evaluation.close"} <= set(calls)
    every = [e.call for t in (demo.summary["tender_id"], demo.open_tender)
             for e in index.of_tender(t)]
    assert not any(c in ("bid.submit", "bid.reveal", "bid.replace", "bid.withdraw")
                   for c in every)
    assert [e.call for e in index.of_tender(demo.open_tender)] == [
        "tender.announce", "tender.amend", "tender.object", "tender.rule", "tender.suspend",
        "tender.resume"]


def test_the_tender_page_shows_the_drawn_committee_its_scores_and_report(
        served: Served) -> None:
    demo = served.demo
    tender = demo.summary["tender_id"]
    _, html, _ = get(f"{served.url}/portal/tender/{tender}")
    for text in ("Committee draw requested (round 1)", "Committee seated (round 1)",
                 "Evaluation result (round 1)", "Evaluation report (round 1)",
                 "candidates decided", "Members&#x27; mean"):
        assert text in html, text
    for member in demo.summary["committee"]:
        assert member in html
    # the tenderer's representative has no pool and no region (user walk: "remote")
    rep = re.search(r"tenderer&#x27;s representative(.{0,120})", html)
    assert rep is not None and "remote" not in rep.group(1).split("<li")[0], rep
    multi = re.search(r'data-kind="multi" data-url="([^"]+)"', html)
    assert multi is not None
    for key in (f"draw/{tender}/1", f"eval/{tender}/1/result", f"eval/{tender}/1/report"):
        assert f'data-expect="{key}"' in html
        assert "key=" + key.replace("/", "%2F") in multi.group(1)  # all at one height too
    # totals are points with the chain's decimals, e.g. 95.12
    assert re.search(r'<td class="num">\d{2,3}\.\d\d</td>', html)


def test_the_xss_entity_is_text_on_every_page(served: Served) -> None:
    for path in (f"/portal/entity/{served.demo.xss_uscc}", "/portal/exposure"):
        _, html, _ = get(served.url + path)
        assert "<script>window" not in html and "<img src=x" not in html
    _, html, _ = get(f"{served.url}/portal/entity/{served.demo.xss_uscc}")
    assert XSS_NAME.replace("<", "&lt;").replace(">", "&gt;") in html


def test_after_the_deadline_the_opening_and_award_carry_their_proofs(served: Served) -> None:
    demo = served.demo
    tender = demo.summary["tender_id"]
    index = TxIndex(demo.chain)
    while index.catch_up(max_blocks=50):
        pass
    entries = {e.call: e for e in index.of_tender(tender)}
    _, html, _ = get(f"{served.url}/portal/tender/{tender}")
    for call in ("bid.open", "bid.close", "tender.award"):
        url = f"/txs/{entries[call].tx_id.hex()}/inclusion"
        assert f'data-url="{url}"' in html, call  # the §8 check of a public notice
        status, _, _ = get(f"{served.url}{url}")
        assert status == 200, call
    # the open tender's objector acted before the deadline: its act stays its own
    objection = next(e for e in index.of_tender(demo.open_tender)
                     if e.call == "tender.object")
    status, _, _ = get(f"{served.url}/txs/{objection.tx_id.hex()}/inclusion")
    assert status == 403


def test_a_guarantee_reads_bound_once_its_binding_is_public(demo: DemoChain) -> None:
    """The 验真 page names a guarantee's state as the contract does (``status_of``): "bound"
    once opening wrote its binding, "issued" while its tender still takes bids (no binding is
    written then, and the key is sealed)."""
    reader = PortalReader(demo.chain)
    claimed = reader.get(f"guarantee/{demo.summary['claimed']}")
    assert reader.guarantee_status(claimed) == "claimed"
    # the same record as it stood between opening and the claim: issued, with its binding
    assert reader.guarantee_status({**claimed, "status": "issued"}) == "bound"
    open_g = next(g for _, g in reader.scan("guarantee/", None, 1000, 1000).items
                  if g["tender_id"] == demo.open_tender)
    assert open_g["status"] == "issued" and reader.guarantee_status(open_g) == "issued"
    assert reader.guarantee_status({**open_g, "tender_id": "NO-SUCH"}) == "issued"


def test_an_agency_cleared_out_of_the_supermarket_says_so_on_its_page() -> None:
    """User walk of 2026-12-03: an agency suspended for 12 months by its low ratings showed
    nothing of it on its portal page; only a supervisor's history did."""
    from contracts.periods import ms_of_beijing
    from contracts.supermarket import agency_key
    from shell.portal.entity_page import _supermarket

    now = ms_of_beijing(2027, 1, 10)
    until = ms_of_beijing(2027, 12, 5)

    class Reader:
        now_ms = now

        def __init__(self, rec: Any) -> None:
            self.rec = rec

        def get(self, key: str) -> Any:
            return self.rec if key == agency_key("91441500MA0000001X") else None

    rec = {"ratings": [], "suspended_from_ms": now - 1, "suspended_to_ms": until,
           "suspension_reason": "3 low ratings within 12 months"}
    html = str(_supermarket(Reader(rec), "91441500MA0000001X"))  # type: ignore[arg-type]
    assert "Suspended until 2027-12-05" in html and "3 low ratings within 12 months" in html
    assert agency_key("91441500MA0000001X") in html  # its verify action proves the record
    lapsed = {**rec, "suspended_to_ms": now}
    assert "Not suspended by its ratings" in str(_supermarket(Reader(lapsed),  # type: ignore
                                                              "91441500MA0000001X"))
    assert _supermarket(Reader(None), "91441500MA0000001X") == ""  # type: ignore[arg-type]

"""The in-browser verify action: every record the pages show verifies against the pinned
anchor (both suites; each bundle's verification time goes to the figures), and what the
panel says is what the Python verifier says of the very bundle the browser received. A
server that lies — a tampered record, a tampered block, another key's bundle, a proof of
absence for a record it shows — and a wrong anchor make the panel fail with the reason shown,
and an absent record is never called verified."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger import verdict as pyverdict
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block
from ledger.verdict import beijing_time
from tests.browser.demochain import Served
from tests.browser.pagekit import Watch, get, pin_anchor, verify, verify_all

OK_STATES = {"present", "absent", "tx", "multi"}


def _served(request: pytest.FixtureRequest, suite: str) -> Served:
    fixture = "served_ed" if suite == "ed25519-sha256" else "served_sm"
    served: Served = request.getfixturevalue(fixture)
    return served


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_every_record_on_the_main_pages_verifies_in_the_browser(
        suite: str, request: pytest.FixtureRequest, context: Any, figures: Any) -> None:
    served = _served(request, suite)
    demo = served.demo
    page = context.new_page()
    watch = Watch(page)
    pin_anchor(page, served.url, served.anchor_path)
    paths = [f"/portal/tender/{demo.summary['tender_id']}",
             f"/portal/entity/{demo.summary['winner']}",
             f"/portal/guarantee?number={demo.summary['claimed']}",
             "/portal/exposure"]
    kinds: set[str] = set()
    for path in paths:
        page.goto(served.url + path)
        results = verify_all(page)
        assert results, f"{path} offers no verify action"
        for r in results:
            assert r["state"] in OK_STATES, (path, r["url"], r["text"][:500])
            kinds.add(r["kind"])
            figures.add(f"verify {suite} {r['kind']} (§{_SECTION[r['kind']]})", r["ms"])
    assert kinds == {"state", "inclusion", "multi"}
    assert watch.errors == []


_SECTION = {"state": 7, "inclusion": 8, "multi": 9}


def test_the_panel_shows_what_the_python_verifier_proves_of_the_same_bundle(
        served_ed: Served, context: Any) -> None:
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    tender = served_ed.demo.summary["tender_id"]
    page.goto(f"{served_ed.url}/portal/tender/{tender}")
    box = page.locator("div.verify").first
    with page.expect_response(lambda r: "/proof/" in r.url) as got:
        result = verify(page, box)
    body = got.value.body()
    anchor = Anchor.load(served_ed.anchor_path)
    py = pyverdict.verify_any(body, anchor)
    assert py.valid and result["state"] == "present"
    assert py.entries[0].key == f"tender/{tender}"
    # asked at the block the page was read at, not at a later head (user walk)
    page_height = int(page.inner_text("#page-height"))
    assert f"height={page_height}" in got.value.url and py.height == page_height
    text = result["text"]
    assert result["height"] == py.height and beijing_time(py.time_ms or 0) in text
    assert (py.entries[0].value_hash or b"").hex() in text
    assert (py.block_hash or b"").hex()[:32] in text
    assert "1 / 1" in text  # the one validator signed, and is named
    assert "v0" in text


def _tamper_route(page: Any, pattern: str, change: Callable[[dict[str, Any]], None]) -> None:
    def handle(route: Any) -> None:
        response = route.fetch()
        bundle = response.json()
        change(bundle)
        route.fulfill(response=response, body=json.dumps(bundle))

    page.route(pattern, handle)


def _flip(hex_text: str, at: int = 10) -> str:
    digit = "0" if hex_text[at] != "0" else "1"
    return hex_text[:at] + digit + hex_text[at + 1:]


def _first_state_box(page: Any) -> Any:
    return page.locator("div.verify[data-kind=state]").first


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
@pytest.mark.parametrize("tampering", ["record", "block time", "signature"])
def test_a_tampered_bundle_fails_with_the_python_verifiers_reason(
        tampering: str, suite: str, request: pytest.FixtureRequest, context: Any) -> None:
    served = _served(request, suite)
    page = context.new_page()
    pin_anchor(page, served.url, served.anchor_path)
    tender = served.demo.summary["tender_id"]
    seen: list[dict[str, Any]] = []

    def change(b: dict[str, Any]) -> None:
        if tampering == "record":
            b["value"] = _flip(b["value"])
        elif tampering == "block time":
            b["header"]["time_ms"] += 1
        else:
            index, sig = b["qc"]["votes"][0]
            b["qc"]["votes"][0] = [index, _flip(sig)]
        seen.append(b)

    _tamper_route(page, "**/proof/**", change)
    page.goto(f"{served.url}/portal/tender/{tender}")
    result = verify(page, _first_state_box(page))
    assert result["state"] == "fail"
    py = pyverdict.verify_any(json.dumps(seen[0]), Anchor.load(served.anchor_path))
    assert not py.valid and py.reason
    assert py.reason in result["text"]
    assert "NOT VALID" in result["text"] and "Nothing in this bundle is proven" in result["text"]
    assert "Verified" not in result["text"]


def test_a_valid_bundle_of_another_key_is_refused_as_such(served_ed: Served,
                                                         context: Any) -> None:
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    demo = served_ed.demo
    status, other, _ = get(f"{served_ed.url}/proof/tender/{demo.open_tender}")
    assert status == 200
    page.route("**/proof/**", lambda route: route.fulfill(status=200, body=other,
                                                          content_type="application/json"))
    page.goto(f"{served_ed.url}/portal/tender/{demo.summary['tender_id']}")
    result = verify(page, _first_state_box(page))
    assert result["state"] == "fail"
    assert f"proves key \"tender/{demo.open_tender}\"" in result["text"]


def test_a_proof_of_absence_is_shown_as_absent_never_as_verified(served_ed: Served,
                                                                context: Any) -> None:
    """The server answers with a real bundle of the tender's key at block 1, before it was
    announced: valid, and it proves the record ABSENT there."""
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    tender = served_ed.demo.summary["tender_id"]
    status, at_one, _ = get(f"{served_ed.url}/proof/tender/{tender}?height=1")
    assert status == 200 and json.loads(at_one)["value"] is None
    page.route("**/proof/**", lambda route: route.fulfill(status=200, body=at_one,
                                                          content_type="application/json"))
    page.goto(f"{served_ed.url}/portal/tender/{tender}")
    result = verify(page, _first_state_box(page))
    assert result["state"] == "absent"
    assert "Proven ABSENT" in result["text"] and "已证明不存在" in result["text"]
    assert "Verified" not in result["text"] and "已核验" not in result["text"]
    assert result["height"] == 1


@pytest.mark.parametrize(("wrong", "said"), [("another chain", "wrong chain id"),
                                            ("same chain id, another genesis", "genesis")])
def test_a_wrong_anchor_fails_with_the_reason(wrong: str, said: str, served_ed: Served,
                                             context: Any, tmp_path: Path) -> None:
    doc = served_ed.demo.doc
    chain_id = "another-chain" if wrong == "another chain" else doc.chain_id
    other = GenesisDoc(chain_id=chain_id, suite=doc.suite, time_ms=doc.time_ms + 1,
                       validators=doc.validators, committee=doc.committee, roles=doc.roles,
                       params=doc.params, demo=doc.demo)
    anchor = Anchor.of(served_ed.demo.anchor.suite,
                       genesis_block(other, default_state(other)).header, other.validators)
    wrong_path = tmp_path / "wrong-anchor.json"
    anchor.save(wrong_path)
    page = context.new_page()
    pin_anchor(page, served_ed.url, wrong_path)
    tender = served_ed.demo.summary["tender_id"]
    page.goto(f"{served_ed.url}/portal/tender/{tender}")
    with page.expect_response(lambda r: "/proof/" in r.url) as got:
        result = verify(page, _first_state_box(page))
    py = pyverdict.verify_any(got.value.body(), anchor)
    assert result["state"] == "fail" and not py.valid and py.reason
    assert py.reason in result["text"]
    assert said in py.reason


def test_without_an_anchor_the_panel_asks_for_one(served_ed: Served, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{served_ed.url}/portal/tender/{served_ed.demo.summary['tender_id']}")
    result = verify(page, _first_state_box(page))
    assert result["state"] == "no-anchor"
    assert "Load a trust anchor first" in result["text"]


def test_a_refused_fetch_is_an_error_not_a_verdict(served_ed: Served, context: Any) -> None:
    page = context.new_page()
    pin_anchor(page, served_ed.url, served_ed.anchor_path)
    page.route("**/proof/**", lambda route: route.fulfill(
        status=403, body=json.dumps({"error": "sealed until the deadline"}),
        content_type="application/json"))
    page.goto(f"{served_ed.url}/portal/tender/{served_ed.demo.summary['tender_id']}")
    result = verify(page, _first_state_box(page))
    assert result["state"] == "error"
    assert "HTTP 403: sealed until the deadline" in result["text"]

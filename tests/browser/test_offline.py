"""The offline check page works with the network gone: loaded once, then the browser context
is taken offline (``context.set_offline(True)``) and every request it still tries is
recorded — there must be none — while bundle files of each kind (§7, §8, §9; JSON and CE
bytes) are picked or dropped with an anchor file and checked; a tampered file and a wrong
anchor fail with the Python verifier's reason. Reloaded while offline, the page comes from
its service worker and works again."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from ledger import bundle as bundle_form
from ledger import encoding
from ledger import verdict as pyverdict
from ledger.genesis import Anchor
from shell.portal.txindex import TxIndex
from tests.browser.demochain import Served
from tests.browser.pagekit import FINAL, Watch, get

SW_TIMEOUT_MS = 30_000


def _bundles(served: Served, out: Path) -> dict[str, Path]:
    """Bundle files of a demo chain's records, fetched while the network is there."""
    demo = served.demo
    tender = demo.summary["tender_id"]
    files: dict[str, Path] = {}
    status, state, _ = get(f"{served.url}/proof/tender/{tender}")
    assert status == 200
    files["state.json"] = out / "tender.bundle.json"
    files["state.json"].write_text(state, "utf-8")
    files["state.ce"] = out / "tender.bundle.ce"
    files["state.ce"].write_bytes(encoding.encode(bundle_form.from_json(json.loads(state))))
    index = TxIndex(demo.chain)  # the announcement: a platform's act, public business
    while index.catch_up():
        pass
    tx_id = index.of_tender(tender)[0].tx_id.hex()
    status, inc, _ = get(f"{served.url}/txs/{tx_id}/inclusion")
    assert status == 200
    files["inclusion.json"] = out / "bid.inclusion.json"
    files["inclusion.json"].write_text(inc, "utf-8")
    status, multi, _ = get(f"{served.url}/proofs?key=tender/{tender}&key=frozen/nobody")
    assert status == 200
    files["multi.json"] = out / "multi.bundle.json"
    files["multi.json"].write_text(multi, "utf-8")
    tampered = json.loads(state)
    tampered["value"] = tampered["value"][:-2] + ("00" if tampered["value"][-2:] != "00"
                                                   else "01")
    files["tampered.json"] = out / "tampered.bundle.json"
    files["tampered.json"].write_text(json.dumps(tampered), "utf-8")
    return files


def _result(page: Any) -> dict[str, Any]:
    page.wait_for_function(FINAL, arg=page.locator("#o-result").element_handle())
    return {"state": page.get_attribute("#o-result", "data-state"),
            "text": page.inner_text("#o-result")}


def _pick(page: Any, anchor: Path, bundle: Path) -> dict[str, Any]:
    page.evaluate("document.getElementById('o-result').dataset.state = 'running'")
    for control, path in (("#o-anchor-file", anchor), ("#o-bundle-file", bundle)):
        page.set_input_files(control, [])  # the same file picked again must count again
        page.set_input_files(control, str(path))
    return _result(page)


def _drop(page: Any, files: list[Path]) -> dict[str, Any]:
    """Drop files on the drop zone the way a browser does: a drop event whose
    DataTransfer holds them."""
    page.evaluate("document.getElementById('o-result').dataset.state = 'running'")
    payload = [{"name": f.name, "b64": base64.b64encode(f.read_bytes()).decode()}
               for f in files]
    page.evaluate("""(files) => {
        const dt = new DataTransfer();
        for (const f of files) {
          const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
          dt.items.add(new File([bytes], f.name));
        }
        const zone = document.getElementById('o-drop');
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true,
                                                  cancelable: true}));
    }""", payload)
    return _result(page)


def test_the_offline_page_checks_bundles_with_the_network_gone(
        served_ed: Served, context: Any, tmp_path: Path) -> None:
    files = _bundles(served_ed, tmp_path)
    anchor_path = served_ed.anchor_path
    anchor = Anchor.load(anchor_path)
    page = context.new_page()
    watch = Watch(page)
    page.goto(served_ed.url + "/portal/offline")
    page.wait_for_selector("#o-sw-state[data-cached=true]", timeout=SW_TIMEOUT_MS)

    context.set_offline(True)
    attempted: list[str] = []
    page.on("request", lambda r: attempted.append(r.url))

    picked = _pick(page, anchor_path, files["state.json"])
    assert picked["state"] == "present", picked["text"]
    assert served_ed.demo.summary["tender_id"] in picked["text"]
    assert _pick(page, anchor_path, files["state.ce"])["state"] == "present"
    included = _pick(page, anchor_path, files["inclusion.json"])
    assert included["state"] == "tx" and "tender.announce" in included["text"]
    several = _pick(page, anchor_path, files["multi.json"])
    assert several["state"] == "multi" and "Proven ABSENT" in several["text"]

    dropped = _drop(page, [anchor_path, files["state.json"]])
    assert dropped["state"] == "present"
    bad = _drop(page, [files["tampered.json"]])
    py = pyverdict.verify_any(files["tampered.json"].read_bytes(), anchor)
    assert bad["state"] == "fail" and py.reason and py.reason in bad["text"]

    assert attempted == [], f"the page reached for the network: {attempted}"
    assert watch.errors == []


def test_the_offline_page_reopens_offline_from_its_service_worker(
        served_ed: Served, context: Any, tmp_path: Path) -> None:
    files = _bundles(served_ed, tmp_path)
    page = context.new_page()
    page.goto(served_ed.url + "/portal/offline")
    page.wait_for_selector("#o-sw-state[data-cached=true]", timeout=SW_TIMEOUT_MS)
    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.ok and response.from_service_worker
    page.wait_for_selector("body[data-offline-ready=true]")
    picked = _pick(page, served_ed.anchor_path, files["state.json"])
    assert picked["state"] == "present"
    # A wrong anchor (its validator set changed, so it is no anchor at all) is refused.
    wrong = json.loads(served_ed.anchor_path.read_text("utf-8"))
    wrong["validators"][0]["name"] = "someone else"
    wrong_path = tmp_path / "wrong-anchor.json"
    wrong_path.write_text(json.dumps(wrong), "utf-8")
    refused = _pick(page, wrong_path, files["state.json"])
    assert refused["state"] == "fail"
    assert "anchor validators do not hash to the genesis validators_hash" in refused["text"]


def test_on_a_plain_http_address_the_pages_verify_without_webcrypto(
        browser: Any, served_ed: Served, tmp_path: Path, figures: Any) -> None:
    """A reader on a platform's plain-http address (no secure context: no WebCrypto, no
    service worker) still gets every check — the verifier's own SHA-2 and Ed25519 — and is
    told the page can't be kept for later."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.browser.pagekit import pin_anchor, verify_all

    port = served_ed.url.rsplit(":", 1)[1]
    insecure = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP portal.test 127.0.0.1"])
    try:
        page = insecure.new_context().new_page()
        page.set_default_timeout(90_000)
        base = f"http://portal.test:{port}"
        page.goto(base + "/portal/offline")
        assert page.evaluate("isSecureContext") is False
        assert page.evaluate("typeof crypto.subtle") == "undefined"
        assert "cannot keep the page for later" in page.inner_text("#o-sw-state")
        files = _bundles(served_ed, tmp_path)
        assert _pick(page, served_ed.anchor_path, files["state.json"])["state"] == "present"
        bad = _pick(page, served_ed.anchor_path, files["tampered.json"])
        assert bad["state"] == "fail"
        pin_anchor(page, base, served_ed.anchor_path)
        page.goto(f"{base}/portal/tender/{served_ed.demo.summary['tender_id']}")
        for r in verify_all(page):
            assert r["state"] in ("present", "tx", "multi"), r["text"][:300]
            figures.add(f"verify ed25519-sha256 {r['kind']} without WebCrypto (plain http)",
                        r["ms"])
    finally:
        insecure.close()

"""Measure the portal on a running network, as a person would use it (not a test: the
figures for the note). Start ``credchain demo --keep`` (4 validators, QCs of 3 signatures),
then:

    .venv/bin/python -m tests.browser.measure_demo --portal URL/portal/tender/ID \
        --anchor DIR/anchor.json [--loads 5]

It pins the anchor, loads the tender, winner and guarantee pages ``--loads`` times each
(navigation start to the load event, every module loaded), clicks every verify action on
them (fetch and in-browser verification timed apart), and prints medians with the load
average before and after. Chromium is Debian's, driven by Playwright, as in the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.pagekit import load_ms, pin_anchor, verify_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--portal", required=True, help="the tender page the demo printed")
    parser.add_argument("--anchor", required=True, type=Path)
    parser.add_argument("--loads", type=int, default=5)
    a = parser.parse_args()
    parts = urlsplit(a.portal)
    base = f"{parts.scheme}://{parts.netloc}"
    before = os.getloadavg()
    loads: dict[str, list[float]] = {}
    verifies: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        pin_anchor(page, base, a.anchor)
        page.goto(a.portal)
        links = {"tender": a.portal,
                 "entity": base + str(page.locator("ol li a").first.get_attribute("href")),
                 "tenders": base + "/portal/", "exposure": base + "/portal/exposure",
                 "offline": base + "/portal/offline"}
        for name, url in links.items():
            for _ in range(a.loads):
                page.goto(url)
                loads.setdefault(name, []).append(load_ms(page))
            if name in ("tender", "entity"):
                for r in verify_all(page):
                    assert r["state"] in ("present", "absent", "tx", "multi"), r
                    verifies.setdefault(r["kind"], []).append(r["ms"])
        suite = page.evaluate("document.querySelector('#anchor-status').textContent")
        browser.close()
    after = os.getloadavg()
    print(f"anchor: {suite.strip()}")
    print(f"load average before {before[0]:.2f} {before[1]:.2f}, after {after[0]:.2f} "
          f"{after[1]:.2f} (1, 5 min), {os.cpu_count()} cores")
    for name, values in loads.items():
        print(f"page load {name:10s} median {statistics.median(values):7.1f} ms "
              f"(n={len(values)}, max {max(values):.1f})")
    for kind, values in verifies.items():
        print(f"verify {kind:10s} median {statistics.median(values):7.2f} ms "
              f"(n={len(values)}, max {max(values):.2f})")


if __name__ == "__main__":
    main()

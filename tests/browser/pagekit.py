"""Test support for the browser tests: pin an anchor the way a person does, click verify
actions and wait for their verdicts, read a page's load time, watch for script errors,
save screenshots, and collect the figures the note reports (page load and in-browser
verification times, with the machine's load average)."""

from __future__ import annotations

import json
import os
import statistics
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.browser.conftest import SCREENSHOTS

VERDICT_TIMEOUT_MS = 60_000
FINAL = "(el) => !['running', undefined].includes(el.dataset.state)"


class Watch:
    """Console errors and uncaught exceptions of a page, kept for the test to assert on."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


def pin_anchor(page: Any, base: str, anchor_file: Path) -> None:
    """Load the anchor file on the trust-anchor page, as a person does with the picker."""
    page.goto(base + "/portal/anchor")
    page.set_input_files("#a-file", str(anchor_file))
    page.wait_for_selector("#a-pinned[data-state=pinned]")
    assert page.get_attribute("#a-status", "data-state") == "ok"


def verify(page: Any, box: Any) -> dict[str, Any]:
    """Click one verify action; its final state, kind, time and the panel's text."""
    box.locator("button.verify-btn").click()
    page.wait_for_function(FINAL, arg=box.element_handle(), timeout=VERDICT_TIMEOUT_MS)
    ms = box.get_attribute("data-verify-ms")
    height = box.locator(".verdict dd.height")
    return {"kind": box.get_attribute("data-kind"), "state": box.get_attribute("data-state"),
            "ms": float(ms) if ms else None, "text": box.locator(".verdict").inner_text(),
            "url": box.get_attribute("data-url"),
            "height": int(height.inner_text()) if height.count() else None,
            # the field names of every proven record the panel shows
            "fields": box.locator(".verdict dl.val-map > dt").all_inner_texts()}


def verify_all(page: Any) -> list[dict[str, Any]]:
    boxes = page.locator("div.verify")
    return [verify(page, boxes.nth(i)) for i in range(boxes.count())]


def load_ms(page: Any) -> float:
    """The navigation's time from request start to the load event (every module loaded)."""
    return float(page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.loadEventEnd - n.startTime; }"))


def screenshot(page: Any, name: str, element: Any = None) -> Path:
    """The whole page, or one element of it, as ``<name>.png`` in ``SCREENSHOTS`` (the
    README's ``shell/web/screenshots/`` with ``CREDCHAIN_UPDATE_SCREENSHOTS=1``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if element is not None:
        element.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8"), dict(e.headers)


class Figures:
    """Timings gathered across the browser tests, written once at the end of the session
    to ``timings.json`` in ``SCREENSHOTS`` (medians, counts, the load average)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, name: str, ms: float) -> None:
        self.samples.setdefault(name, []).append(ms)

    def summary(self) -> dict[str, Any]:
        load1, load5, load15 = os.getloadavg()
        return {
            "load_average": [round(load1, 2), round(load5, 2), round(load15, 2)],
            "cores": os.cpu_count(),
            "figures": {name: {"median_ms": round(statistics.median(v), 2), "n": len(v),
                               "max_ms": round(max(v), 2)}
                        for name, v in sorted(self.samples.items())},
        }

    def write(self) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / "timings.json"
        path.write_text(json.dumps(self.summary(), indent=2, sort_keys=True) + "\n", "utf-8")
        return path

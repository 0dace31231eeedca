"""``credchain demo`` ends with the portal's address, and with ``--keep`` the network stays up
until Ctrl-C: the portal answers at that address (the story's tender, its winner, the
guarantee to check), then SIGINT stops the four validators cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shell.demo import keep_running, portal_lines
from tests.browser.pagekit import get

ROOT = Path(__file__).resolve().parents[1]
STORY_TIMEOUT_S = 420


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_keep_running_returns_on_sigterm_and_restores_the_handler() -> None:
    lines: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    keep_running(lines.append, poll_s=0.05)
    assert time.monotonic() - started < 10
    assert lines == ["== the network keeps running; press Ctrl-C to stop it ==",
                     "== stopping =="]
    assert signal.getsignal(signal.SIGTERM) is before


def test_portal_lines_name_the_pages_of_the_story() -> None:
    lines = portal_lines("http://127.0.0.1:9/", Path("/n/anchor.json"),
                         {"tender_id": "SW-DEMO-1", "winner": "91350100M000100Y43",
                          "claimed": "BG-1-d"})
    text = "\n".join(lines)
    assert "http://127.0.0.1:9/portal/ ==" in text and "/n/anchor.json" in text
    assert "http://127.0.0.1:9/portal/tender/SW-DEMO-1" in text
    assert "http://127.0.0.1:9/portal/entity/91350100M000100Y43" in text
    assert "http://127.0.0.1:9/portal/guarantee?number=BG-1-d" in text


KINDS = ("deadline (opening) soon", "deadline passed", "bids opened", "award notice",
         "tender archived")


@pytest.mark.multiprocess
@pytest.mark.slow
def test_demo_keep_serves_the_portal_until_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "net"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "demo", "--suite", "ed25519-sha256", "--keep",
         "--dir", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        # Ctrl-C as an operator's terminal delivers it: a test run started in the background
        # of a shell inherits SIGINT ignored, and so would the demo.
        preexec_fn=_default_sigint, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + STORY_TIMEOUT_S
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "keeps running" in line:
                break
        text = "\n".join(lines)
        assert "keeps running" in text, text[-3000:]
        portal = next(ln.split(": ", 1)[1].split(" ==")[0] for ln in lines
                      if "the disclosure portal" in ln)
        tender = next(ln.split(": ", 1)[1] for ln in lines if "the story's tender" in ln)
        assert str(out / "anchor.json") in text
        # the bidder's watch: the tender's notices in order, each checked against its proof
        start = next(i for i, ln in enumerate(lines) if "a bidder's notices" in ln)
        pushed = lines[start + 1:next(i for i, ln in enumerate(lines)
                                      if "each checked against its proof" in ln)]
        order = [next(k for k in KINDS if k in ln) for ln in pushed
                 if any(k in ln for k in KINDS)]
        soon, passed, opened, award, archived = KINDS
        assert order[:3] == [soon, soon, passed], pushed
        assert order.index(opened) > 2 and order[-2:] == [award, archived], order
        status, html, _ = get(portal)
        assert status == 200 and "招标公告" in html
        status, html, _ = get(tender)
        assert status == 200 and "Award notice" in html and "Archived" in html
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "network stopped (exit codes [0, 0, 0, 0])" in rest
    finally:
        if proc.poll() is None:  # the demo and the nodes it started, not left running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

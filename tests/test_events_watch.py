"""``credchain watch`` against a live node in a thread: notices printed in Beijing time in
Chinese and English, a cursor file that makes a restart resume exactly, signed webhooks with
retries, at least once under one idempotency key, items checked against the anchor; and the
SSE parser it reads with."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cli
from contracts.scenario import actor_secret
from ledger.genesis import GenesisDoc
from shell.client import NodeClient
from shell.commands import watch as watch_module
from shell.config import NodeLimits
from shell.localnet import PROJECT_DIR, free_ports
from shell.sse import EVENT_BYTES_MAX, SseParser
from shell.webhook import verify
from tests.test_api import one_validator_node
from tests.test_events_api import DEMO_DAY_MS, demo_genesis
from tests.test_events_kit import SUITE, VALIDATOR, Story, anchor_of, genesis

SECRET = b"shared webhook secret"


class NodeThread:
    """A one-validator node listening on loopback, its event loop in a thread."""

    def __init__(self, doc: GenesisDoc) -> None:
        self.node = one_validator_node(doc, VALIDATOR, NodeLimits(tick_ms=10))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.node.start(), self.loop).result(15)
        self.url = f"http://127.0.0.1:{self.node.http_port()}"
        self.client = NodeClient(self.url)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.node.stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture()
def live() -> Iterator[tuple[NodeThread, Story, GenesisDoc]]:
    doc = demo_genesis()
    n = NodeThread(doc)
    try:
        yield n, Story(), doc
    finally:
        n.stop()


def announce(n: NodeThread, story: Story, tender_id: str, seconds: float) -> int:
    now = int(time.time() * 1000)
    n.client.send(story.attest("tenderer", now))
    issue = n.client.head_time_ms() + 1_000  # not before the announcing block
    deadline = issue + int(seconds * 1000)
    assert deadline - issue >= 21 * DEMO_DAY_MS
    n.client.send(story.announce(tender_id, issue, deadline, day_ms=DEMO_DAY_MS))
    return deadline


def run_watch(*args: str) -> Any:
    return CliRunner().invoke(cli.main, ["watch", *args], catch_exceptions=False)


def test_watch_prints_notices_and_resumes_exactly_from_its_cursor_file(
        live: tuple[NodeThread, Story, GenesisDoc], tmp_path: Path) -> None:
    n, story, _ = live
    deadline = announce(n, story, "W-1", 4.0)
    cursor_file = tmp_path / "cursor.json"
    common = ["--url", n.url, "--tender", "W-1", "--remind", "2s", "--cursor-file",
              str(cursor_file), "--heartbeat-ms", "1000"]
    first = run_watch(*common, "--from-height", "1", "--count", "1")
    assert first.exit_code == 0, first.output
    assert "招标公告 | tender announced" in first.output
    assert "[W-1 · works · 441502]" in first.output and "+08:00" in first.output
    saved = json.loads(cursor_file.read_text())
    assert saved["chain_id"] == n.node.chain.chain_id
    assert saved["cursor"].endswith(".0.0")
    # a restart: --from-height is ignored, the cursor file says where to go on
    second = run_watch(*common, "--from-height", "1", "--count", "2")
    assert second.exit_code == 0, second.output
    lines = second.stdout.strip().splitlines()  # the items (notes go to stderr)
    assert "tender announced" not in second.stdout  # nothing twice
    assert "投标截止(开标)提醒 | deadline (opening) soon" in lines[0]
    assert "还有 in 2s" in lines[0]
    assert "投标截止，开标时间已到 | deadline passed: opening time" in lines[1]
    from ledger.verdict import beijing_time

    assert f"截止 deadline {beijing_time(deadline)}" in lines[1]
    json_run = run_watch("--url", n.url, "--tender", "W-1", "--remind", "2s",
                         "--from-height", "1", "--count", "3", "--json")
    items = [json.loads(line) for line in json_run.stdout.strip().splitlines()]
    assert [i["type"] for i in items] == ["tender.announced", "notice.deadline_soon",
                                          "notice.deadline_passed"]
    assert items[2]["cursor"] == json.loads(cursor_file.read_text())["cursor"]


def test_watch_until_head_prints_what_happened_then_stops(
        live: tuple[NodeThread, Story, GenesisDoc]) -> None:
    n, story, _ = live
    announce(n, story, "W-2", 60.0)  # its deadline far off: the stream then only waits
    head = n.client.status()["height"]
    started = time.monotonic()
    done = run_watch("--url", n.url, "--tender", "W-2", "--from-height", "1", "--json",
                     "--until-head", "--heartbeat-ms", "1000")
    assert done.exit_code == 0, done.output
    assert time.monotonic() - started < 10  # it did not wait for what comes next
    items = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [i["type"] for i in items] == ["tender.announced"]
    assert items[0]["height"] <= head


class Receiver:
    """A webhook receiver: answers with the statuses in ``script`` (then 200)."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.got: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.got.append((dict(self.headers), body, status))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_watch_posts_signed_webhooks_with_retries_at_least_once_under_one_key(
        live: tuple[NodeThread, Story, GenesisDoc], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    n, story, _ = live
    announce(n, story, "W-2", 30.0)
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    os.chmod(secret_file, 0o600)
    cursor_file = tmp_path / "cursor.json"
    receiver = Receiver([503, 429])
    args = ["--url", n.url, "--tender", "W-2", "--from-height", "1", "--post", receiver.url,
            "--secret-file", str(secret_file), "--cursor-file", str(cursor_file)]
    try:
        done = run_watch(*args, "--count", "1")
        assert done.exit_code == 0, done.output
        assert [status for _, _, status in receiver.got] == [503, 429, 200]
        keys = {h["Idempotency-Key"] for h, _, _ in receiver.got}
        chain_id = n.node.chain.chain_id
        item = json.loads(receiver.got[0][1])
        assert keys == {f"{chain_id}:{item['cursor']}"} and item["type"] == "tender.announced"
        now = int(time.time() * 1000)
        for headers, body, _ in receiver.got:
            assert verify(SECRET, headers, body, now)
            assert not verify(b"another secret", headers, body, now)
            assert not verify(SECRET, headers, body + b" ", now)
            assert not verify(SECRET, headers, body, now + 600_000)  # replayed later
            # sent again under another idempotency key, to pass the receiver's repeat check
            # (user walk), or with a timestamp the sender did not sign
            for name, value in (("Idempotency-Key", "credchain-other:3.0.0"),
                                ("X-Credchain-Timestamp", "0" + headers["X-Credchain-Timestamp"]),
                                ("X-Credchain-Timestamp", "²")):
                assert not verify(SECRET, {**headers, name: value}, body, now), name
        # delivered, then stopped before its cursor was saved: sent again, same key
        saved = json.loads(cursor_file.read_text())["cursor"]
        n.client.send(story.amend("W-2", json.loads(receiver.got[0][1])["event"]
                                  ["deadline_ms"]))

        def crash(self: Any, chain_id: str, cursor: str) -> None:
            raise RuntimeError("power cut")

        monkeypatch.setattr(watch_module.CursorFile, "save", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            run_watch(*args, "--count", "1")
        monkeypatch.undo()
        assert json.loads(cursor_file.read_text())["cursor"] == saved
        again = run_watch(*args, "--count", "1")
        assert again.exit_code == 0, again.output
        amended = [(h["Idempotency-Key"], json.loads(b)["type"]) for h, b, _ in receiver.got[3:]]
        assert len(amended) == 2 and amended[0] == amended[1]
        assert amended[0][1] == "tender.amended"
        # a receiver that refuses an item for good stops watch; the cursor stays
        receiver.script = [400]
        n.client.send(story.amend("W-2", item["event"]["deadline_ms"]))
        refused = run_watch(*args, "--count", "1")
        assert refused.exit_code == 1 and "HTTP 400" in refused.output
        assert json.loads(cursor_file.read_text())["cursor"] == amended[0][0].split(":")[1]
    finally:
        receiver.close()


def test_watch_verifies_each_item_against_the_anchor(
        live: tuple[NodeThread, Story, GenesisDoc], tmp_path: Path) -> None:
    n, story, doc = live
    announce(n, story, "W-3", 30.0)
    good, bad = tmp_path / "anchor.json", tmp_path / "other.json"
    anchor_of(doc).save(good)
    anchor_of(genesis({"demo_day_ms": 5})).save(bad)
    ok = run_watch("--url", n.url, "--from-height", "1", "--count", "2", "--verify",
                   "--anchor", str(good))
    assert ok.exit_code == 0, ok.output
    # it says it checked them (user walk: with --verify the output looked as without it)
    assert "2 items, each checked against its proof and the anchor" in ok.output, ok.output
    wrong = run_watch("--url", n.url, "--from-height", "1", "--count", "1", "--verify",
                      "--anchor", str(bad))
    assert wrong.exit_code == 1 and "does not match its proof" in wrong.output
    # one item with its proof, as a platform handed it by webhook keeps it: `credchain verify`
    # checks it whole (user walk: it said "not a proof bundle")
    import urllib.request

    with urllib.request.urlopen(f"{n.url}/events?from_height=1&limit=1") as resp:
        first = json.loads(resp.read())["items"][0]
    with urllib.request.urlopen(f"{n.url}/events/{first['cursor']}") as resp:
        proof = json.loads(resp.read())
    saved = tmp_path / "item.json"
    saved.write_text(json.dumps(proof))
    said = CliRunner().invoke(cli.main, ["verify", str(saved), "--anchor", str(good)])
    assert said.exit_code == 0, said.output
    assert said.output.startswith(f"VALID: event item {first['type']} #{first['cursor']}")
    assert "[not proven] the middle number of the cursor" in said.output, said.output
    said = CliRunner().invoke(cli.main, ["verify", str(saved), "--anchor", str(bad)])
    assert said.exit_code == 1 and said.output.startswith("NOT VALID: event item"), said.output
    proof["item"]["time_ms"] += 1  # an item the bundle does not bear out
    saved.write_text(json.dumps(proof))
    said = CliRunner().invoke(cli.main, ["verify", str(saved), "--anchor", str(good)])
    assert said.exit_code == 1 and "block time differs" in said.output, said.output


def test_the_tender_side_watching_its_tender_sees_an_objection_and_its_proof_checks(
        live: tuple[NodeThread, Story, GenesisDoc], tmp_path: Path) -> None:
    """A documents objection's transaction is not public, but ``watch --tender`` shows the
    tender's side ``notice.objection`` (number and stage, not who), checked by --verify."""
    n, story, doc = live
    announce(n, story, "W-4", 60.0)
    n.client.send(story.attest("c", int(time.time() * 1000)))
    objector = n.client.as_key(SUITE, actor_secret(SUITE, "c"))  # reads its own receipt
    assert objector.send(story.object_("c", "W-4")).receipt.code == "OK"
    anchor = tmp_path / "anchor.json"
    anchor_of(doc).save(anchor)
    done = run_watch("--url", n.url, "--tender", "W-4", "--from-height", "1", "--until-head",
                     "--verify", "--anchor", str(anchor), "--heartbeat-ms", "1000")
    assert done.exit_code == 0, done.output
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and "tender announced" in lines[0], lines
    assert "收到异议" in lines[1] and "异议 objection 1 (documents)" in lines[1], lines
    assert story.uscc("c") not in done.stdout


def test_watch_refuses_options_that_cannot_work(tmp_path: Path) -> None:
    assert "needs --secret-file" in run_watch("--post", "http://x").output
    assert "needs --anchor" in run_watch("--verify").output
    secret = tmp_path / "hook.secret"
    secret.write_text("shared\n")
    secret.chmod(0o644)
    got = run_watch("--post", "http://127.0.0.1:9/hook", "--secret-file", str(secret))
    assert f"webhook secret file {secret} is accessible by group or others" in got.output


def test_a_cursor_file_that_could_never_be_saved_is_refused_before_the_stream(
        tmp_path: Path) -> None:
    """User walk of 2026-12-03: a cursor file in a missing folder was a FileNotFoundError
    traceback at the first item, after the stream had opened."""
    got = run_watch("--url", "http://127.0.0.1:9", "--cursor-file",
                    str(tmp_path / "nodir" / "c.json"))
    assert got.exit_code != 0 and "there is no folder" in got.output, got.output
    assert "Traceback" not in got.output


def test_where_a_run_starts_is_kept_before_any_item(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped before its first item or heartbeat, a watch started at --from-height (or at
    "now") left no cursor file, and a restart began at a later "now": a gap (user walk).
    The start the node names in its hello frame is saved at once."""
    import shell.sse
    from shell.sse import SseEvent

    async def hello_only(*args: Any, **kwargs: Any) -> Any:
        yield SseEvent("hello", json.dumps({"chain_id": "c1", "after": "41", "head": 57}),
                       "", "http://node")

    monkeypatch.setattr(shell.sse, "follow", hello_only)
    cursor_file = tmp_path / "c.json"
    got = run_watch("--url", "http://node", "--from-height", "42", "--cursor-file",
                    str(cursor_file))
    assert got.exit_code == 0, got.output
    assert json.loads(cursor_file.read_text()) == {"chain_id": "c1", "cursor": "41"}


def test_watch_pointed_at_a_peer_port_says_so() -> None:
    """A node's peer port answers with its link handshake, not HTTP: the retries said
    "Bad status line" with raw bytes (user walk); they now name the likely mistake."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"CCSL\x01\x01$]@\xe9G not http\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        subprocess.run([sys.executable, "-m", "cli", "watch", "--url",
                        f"http://127.0.0.1:{port}"], capture_output=True, timeout=5,
                       cwd=str(PROJECT_DIR))
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode()
    else:
        pytest.fail("watch ended though it keeps trying")
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert "peer port rather than its HTTP API (http_port)?" in err, err
    assert "Bad status line" not in err


def test_watch_says_when_no_node_can_be_read() -> None:
    """It keeps trying (a node may come back) but says so on stderr, not in silence."""
    url = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    try:
        subprocess.run([sys.executable, "-m", "cli", "watch", "--url", url], capture_output=True,
                       timeout=6, cwd=str(PROJECT_DIR))
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode()
    else:
        pytest.fail("watch ended though no node answers")
    assert f"watch: cannot read the stream of {url}" in err, err
    assert "trying" in err and " s" in err


# ---- the SSE parser --------------------------------------------------------------------------


def test_the_parser_follows_the_event_stream_format() -> None:
    p = SseParser()
    got = p.feed(b"retry: 2000\r\n: a comment\r\nevent: hello\r\ndata: {\"a\":\r")
    assert got == [] and p.retry_ms == 2000
    got = p.feed(b"\n\r\nid: 5.0.0\ndata: x\ndata: y\n\nid: 6\nevent: heartbeat\ndata: {}\n\n"
                 b"data: no id\n\n")
    assert [(e.event, e.data, e.id) for e in got] == [
        ("hello", '{"a":', ""), ("message", "x\ny", "5.0.0"), ("heartbeat", "{}", "6"),
        ("message", "no id", "6")]  # an id holds until another arrives


def test_the_parser_refuses_an_event_over_its_bound() -> None:
    p = SseParser()
    with pytest.raises(ValueError, match="size bound"):
        for _ in range(3):
            p.feed(b"data: " + b"x" * (EVENT_BYTES_MAX // 2) + b"\n")


def test_the_webhook_key_is_the_secret_file_s_text_as_shell_events_md_says(
        tmp_path: Path) -> None:
    """A receiver that keyed the HMAC with the file's raw bytes verified 0 of 221 deliveries
    (user walk): the key is the text without its trailing line breaks, not decoded. This is
    the documented recipe, computed with nothing but the standard library."""
    import hashlib
    import hmac

    from ledger.keyfile import read_passphrase_file
    from shell.webhook import signature

    path = tmp_path / "hook.key"
    path.write_bytes(b"c2VjcmV0IGtleQ==\r\n")
    path.chmod(0o600)
    key = read_passphrase_file(path, "webhook secret file")
    body, stamp = b'{"cursor": "5.0.0"}', 1_796_316_927_320
    mine = hmac.new(b"c2VjcmV0IGtleQ==", b"1796316927320.c:5.0.0." + body,
                    hashlib.sha256).hexdigest()
    assert signature(key, str(stamp), "c:5.0.0", body) == "sha256=" + mine
    assert "head -c 32 /dev/urandom | base64" in (PROJECT_DIR / "shell" / "EVENTS.md").read_text()

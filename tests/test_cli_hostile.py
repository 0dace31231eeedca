"""Hostile or broken input to the CLI: JSON files nested past the parser's recursion, and a
URL whose server answers deep JSON, a status without a height, or more bytes than any node
answers. Each is one line and a non-zero exit, never a traceback (user walk of 2026-12-03:
``RecursionError`` tracebacks from ``verify``, ``keys show``, ``tx send --args``,
``bid check-proof``, ``status``; ``ValueError`` from ``audit headers``; ``status`` printing
a 200 MB answer)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.crypto import ED25519_SHA256
from tests.test_cli import _bundle_files, invoke

DEEP = "[" * 5000 + "]" * 5000  # far past json's recursion limit


@pytest.fixture
def deep_file(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    path.chmod(0o600)  # a key file must be private before it is read
    return path


def _one_line_refusal(code: int, text: str) -> None:
    assert code != 0, text
    assert "Traceback" not in text and "RecursionError" not in text, text
    assert len(text.strip().splitlines()) == 1, text


def test_deep_json_files_are_one_line(tmp_path: Path, deep_file: Path) -> None:
    bundle, anchor, _ = _bundle_files(tmp_path, ED25519_SHA256)
    _one_line_refusal(*invoke("keys", "show", str(deep_file)))
    code, text = invoke("verify", str(deep_file), "--anchor", str(anchor))
    assert code != 0 and "nested too deeply" in text and "Traceback" not in text, text
    code, text = invoke("verify", str(bundle), "--anchor", str(deep_file))
    assert code != 0 and "nested too deeply" in text and "Traceback" not in text, text
    key = tmp_path / "k.json"
    assert invoke("keys", "new", str(key), "--passphrase-env", "PW", env={"PW": "pw"})[0] == 0
    code, text = invoke("tx", "send", "--call", "credit.record", "--key", str(key),
                        "--passphrase-env", "PW", "--args", DEEP, "--url",
                        "http://127.0.0.1:9", env={"PW": "pw"})
    _one_line_refusal(code, text)
    assert "--args is JSON nested too deeply" in text, text


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the body named by the path's first segment."""

    bodies = {
        "deep": DEEP.encode(),
        "noheight": b'{"height": "x", "chain_id": "c", "suite": "ed25519-sha256"}',
    }

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = self.path.split("/")[1]
        # ~66 MiB of valid JSON, built only when asked
        body = b"[" + b"0," * (33 << 20) + b"0]" if name == "huge" else self.bodies[name]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stopped reading at its bound
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_answering_deep_json_is_one_line(hostile: str) -> None:
    code, text = invoke("status", "--url", f"{hostile}/deep")
    _one_line_refusal(code, text)
    assert "did not answer JSON" in text, text


def test_a_status_without_a_height_is_named(hostile: str, tmp_path: Path) -> None:
    from shell.client import NodeClient, NodeError

    with pytest.raises(NodeError, match="without a height"):
        NodeClient(f"{hostile}/noheight").head_height()
    with pytest.raises(NodeError, match="without a genesis_hash"):
        NodeClient(f"{hostile}/noheight").status_text("genesis_hash")
    assert NodeClient(f"{hostile}/noheight").status_text("suite") == "ed25519-sha256"
    code, text = invoke("gov", "validators", "--url", f"{hostile}/deep")
    _one_line_refusal(code, text)


def test_an_answer_larger_than_any_node_gives_is_refused(hostile: str) -> None:
    code, text = invoke("status", "--url", f"{hostile}/huge")
    _one_line_refusal(code, text)
    assert "answered more than 64 MiB" in text, text


def test_a_json_file_that_is_not_an_object_is_not_called_binary(tmp_path: Path) -> None:
    _, anchor, _ = _bundle_files(tmp_path, ED25519_SHA256)
    for text, kind in (("[]", "an array"), ('"x"', "a string")):
        path = tmp_path / "other.json"
        path.write_text(text)
        code, said = invoke("verify", str(path), "--anchor", str(anchor))
        assert code != 0 and f"a bundle is a JSON object, this is {kind}" in said, said
        assert "not JSON" not in said


def test_a_state_key_too_long_is_refused_before_a_url_is_sent(tmp_path: Path) -> None:
    code, text = invoke("proof", "k" * 100_000, "--url", "http://127.0.0.1:9", "--out",
                        str(tmp_path / "p.json"))
    assert code == 1 and "at most 512 characters, got 100000" in text, text[:300]
    assert len(text) < 200  # the key is not echoed back


@pytest.mark.parametrize(("name", "text", "said"), [
    ("lot", "x", "bad lot 'x': decimal digits 0-9 only"),
    ("cursor", "zz", "bad cursor 'zz'"),
    ("height", "9" * 25, "at most 19 digits"),
    ("height", "-1", "decimal digits 0-9 only"),
])
def test_a_number_parameter_is_named_in_its_refusal(name: str, text: str, said: str) -> None:
    from ledger.errors import InvalidInput
    from shell.apikit import height_param

    with pytest.raises(InvalidInput, match=said):
        height_param(text, name)
    assert height_param("17", name) == 17


def test_a_kept_demo_says_once_which_validator_exited() -> None:
    from shell.demo import keep_running

    polls: list[int] = []

    def exited() -> list[tuple[int, int | None, str]]:
        polls.append(1)
        if len(polls) > 4:
            raise KeyboardInterrupt  # as Ctrl-C
        return [(2, 0, "net/node2.toml")] if len(polls) > 1 else []

    said: list[str] = []
    keep_running(said.append, poll_s=0.001, exited=exited)
    notices = [line for line in said if "validator 2 exited (code 0)" in line]
    assert len(notices) == 1, said
    assert "credchain node start --config net/node2.toml" in notices[0]
    assert said[-1] == "== stopping =="


def test_nodes_run_as_the_credchain_script_so_ps_names_them() -> None:
    import sys

    from shell.localnet import _node_command

    script = Path(sys.executable).parent / "credchain"
    assert script.is_file()  # pip install -e . writes it; CI installs so
    assert _node_command() == [sys.executable, str(script)]


def test_a_refused_node_config_leaves_no_file_and_the_heartbeat_is_named(
        tmp_path: Path) -> None:
    """``node init`` checks the config it writes before it is there: a refused one (both
    ports the same) leaves no file, so the corrected command is not told the file exists
    (user walk). It names the heartbeat the joining node follows: the chain's (genesis
    parameter ``heartbeat_ms``), and refuses a ``--heartbeat-ms`` of its own."""
    from shell.localnet import init_network

    init_network(tmp_path / "net", 4, ED25519_SHA256.name, "init-test", clients=0)
    assert invoke("keys", "new", str(tmp_path / "city.key"), "--suite", ED25519_SHA256.name,
                  "--passphrase-env", "PW", env={"PW": "words"})[0] == 0
    out = tmp_path / "city.toml"
    common = ("node", "init", "--out", str(out), "--genesis", str(tmp_path / "net" /
              "genesis.json"), "--key", str(tmp_path / "city.key"), "--passphrase-env", "PW",
              "--name", "city")
    code, text = invoke(*common, "--peer-port", "26680", "--http-port", "26680",
                        env={"PW": "words"})
    assert code != 0 and "26680" in text, text
    assert not out.exists() and list(tmp_path.glob(".city.toml*")) == []
    code, text = invoke(*common, "--peer-port", "26680", "--http-port", "26681",
                        env={"PW": "words"})
    assert code == 0 and out.exists(), text
    assert "heartbeat: the chain's (parameter heartbeat_ms), which the node follows: " \
           "300000 ms in genesis" in text, text
    assert "empty_block_ticks" not in out.read_text()
    out.unlink()
    code, text = invoke(*common, "--peer-port", "26680", "--http-port", "26681",
                        "--heartbeat-ms", "1000", env={"PW": "words"})
    assert code != 0 and "sets the chain parameter heartbeat_ms (300000 ms)" in text, text
    assert not out.exists()


def test_a_transaction_not_committed_in_time_is_said_to_be_pending_not_failed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With validators down a proposal waits; the wait's end says it may still commit and
    how to look, so the user does not send a second one (user walk: a duplicate proposal)."""
    from shell.client import NodeClient, NodeError

    client = NodeClient("http://127.0.0.1:9")
    monkeypatch.setattr(client, "tx_status", lambda tx_id: {"status": "pending"})
    with pytest.raises(NodeError) as caught:
        client.wait_committed("ab" * 32, timeout_s=0.1)
    said = str(caught.value)
    assert "is not committed after 0 s (the node says: pending)" in said
    assert f"GET http://127.0.0.1:9/txs/{'ab' * 32}" in said and "may still commit" in said


def test_verify_reads_whole_numbers_and_a_byte_order_mark_as_the_browser_does(
        tmp_path: Path) -> None:
    """A JSON number is a number: ``1.0`` and ``1e0`` are the integer 1 to ``JSON.parse``, so
    the browser's verifier found such a bundle VALID where ``verify`` said NOT VALID (user
    walk); now both agree. A fraction is still refused, and a file an editor saved with a
    UTF-8 byte order mark is read as JSON, not as CE bytes."""
    bundle, anchor, _ = _bundle_files(tmp_path, ED25519_SHA256)
    text = bundle.read_text()
    assert '"version": 1,' in text and '"height": 1,' in text and '"view": 0,' in text
    cases = {"whole.json": (text.replace('"version": 1,', '"version": 1.0,')
                            .replace('"height": 1,', '"height": 0.1e1,')
                            .replace('"view": 0,', '"view": -0.0,'), 0),
             "bom.json": ("\ufeff" + text, 0),
             "fraction.json": (text.replace('"height": 1,', '"height": 1.5,'), 1),
             "huge.json": (text.replace('"height": 1,', '"height": 1e999999999,'), 1)}
    for name, (content, want) in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        code, said = invoke("verify", str(tmp_path / name), "--anchor", str(anchor))
        assert code == want, (name, said)
        assert said.startswith("VALID" if want == 0 else "NOT VALID"), (name, said)


def test_tx_send_names_an_argument_the_call_does_not_take_and_a_fraction(
        tmp_path: Path) -> None:
    """User walk of 2026-12-03: ``cross_regoin`` was sent and silently ignored, and
    ``20.5`` points were refused as "type float has no JSON form". Both are now one line
    that says what is wrong, and nothing is sent (the URL is a closed port)."""
    key = tmp_path / "k.json"
    assert invoke("keys", "new", str(key), "--passphrase-env", "PW", env={"PW": "pw"})[0] == 0
    common = ("--key", str(key), "--passphrase-env", "PW", "--url", "http://127.0.0.1:9")
    code, text = invoke("tx", "send", "--call", "tender.announce", *common,
                        "--args", '{"tender_id": "T-1", "cross_regoin": true}',
                        env={"PW": "pw"})
    _one_line_refusal(code, text)
    assert "not sent: tender.announce does not take the argument 'cross_regoin'" in text
    assert "cross_region" in text.split("it takes", 1)[1], text
    code, text = invoke("tx", "send", "--call", "evaluation.score", *common,
                        "--args", '{"points": {"tech": 20.5}}', env={"PW": "pw"})
    _one_line_refusal(code, text)
    assert "$.points.tech: 20.5 is not an integer" in text, text


def test_https_to_a_plain_http_node_says_to_use_http() -> None:
    """Operator walk: "[SSL: WRONG_VERSION_NUMBER]" and nothing more."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code, text = invoke("status", "--url", f"https://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    _one_line_refusal(code, text)
    assert "it answers plain HTTP, not TLS: use http://" in text, text

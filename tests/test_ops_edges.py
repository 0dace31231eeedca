"""Operator-facing edges of a running node: HTTPS for the API, separate bind addresses for
peers and HTTP, one-line startup errors (a taken port, a data directory in use), the peers
file re-read while the node runs, JSON logs and ``credchain --version``.

In-process nodes serve on loopback ports the OS picks; node processes are one- or
two-validator networks of ``shell.localnet.init_network`` on loopback, each bounded in time.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shell.client import NodeClient
from shell.config import ConfigError, NodeConfig, PeerAddr
from shell.localnet import PROJECT_DIR, init_network, wait_ready
from shell.server import Node, main
from tests.test_api import CHAIN, VALIDATOR, make_node
from tests.test_cli import invoke

# ---- helpers ------------------------------------------------------------------------------


def node_with(**changes: Any) -> Node:
    """``make_node()``'s one-validator node (MemoryKV, no peers) with its config changed."""
    base = make_node()
    base.admission.close()
    return Node(replace(base.config, **changes), base.chain, VALIDATOR)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "api.crt", directory / "api.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def plain_http_answer(host: str, port: int) -> bytes:
    """What a plain-text ``GET /status`` to ``host:port`` gets back before the server closes
    the connection (or 3 s pass)."""
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(f"GET /status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return got


def one_node_network(directory: Path, extra: str = "") -> tuple[Path, int]:
    """A one-validator network in ``directory``; ``extra`` TOML appended to its config.
    Returns the config's path and its HTTP port."""
    init_network(directory, 1, "ed25519-sha256", "ops-edges", clients=0, heartbeat_ms=1000)
    config = directory / "node0.toml"
    if extra:
        config.write_text(config.read_text() + extra)
    return config, int(tomllib.loads(config.read_text())["http_port"])


@contextmanager
def node_process(config: Path, log_path: Path, cli: bool = False) -> Iterator[
        subprocess.Popen[bytes]]:
    """A node process of ``config`` (``python node.py CONFIG``, or ``credchain node start``
    with ``cli``), its stdout and stderr to ``log_path``; stopped with SIGTERM at the end."""
    command = ([sys.executable, "-m", "cli", "node", "start", "--config", str(config)] if cli
               else [sys.executable, "node.py", str(config)])
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=out, cwd=str(PROJECT_DIR))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_to_exit(command: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          cwd=str(PROJECT_DIR))


def assert_one_line_startup_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, no traceback, exactly one ``credchain: cannot start:`` line; returns it."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("credchain: cannot start")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- 1. HTTPS ------------------------------------------------------------------------------


def test_the_api_serves_https_with_the_configured_certificate_and_not_plain_http(
        tmp_path: Path) -> None:
    from shell.config import TlsConfig

    cert, key = self_signed(tmp_path)
    n = node_with(tls=TlsConfig(cert, key))

    async def go() -> None:
        await n.start()
        try:
            port = n.http_port()
            trusting = ssl.create_default_context(cafile=str(cert))
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"https://127.0.0.1:{port}/status",
                                       ssl=trusting) as resp:
                    assert resp.status == 200
                    assert (await resp.json())["chain_id"] == CHAIN
                # A client that does not trust the certificate refuses the server.
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    async with session.get(f"https://127.0.0.1:{port}/status",
                                           ssl=ssl.create_default_context()):
                        pass
            got = await asyncio.to_thread(plain_http_answer, "127.0.0.1", port)
            assert not got.startswith(b"HTTP/"), got[:200]
        finally:
            await n.stop()

    asyncio.run(asyncio.wait_for(go(), 30))


def test_a_config_naming_a_missing_certificate_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, key = self_signed(tmp_path)
    config = tmp_path / "node.toml"
    config.write_text(
        'index = 0\nname = "n"\nkey_file = "k"\npassphrase_env = "PW"\npeer_port = 1\n'
        'http_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n\n'
        f'[tls]\ncert_file = "missing.crt"\nkey_file = "{key.name}"\n')
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(config)
    text = str(caught.value)
    assert "tls.cert_file" in text and "missing.crt" in text and "\n" not in text
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert main(str(config)) == 2  # the node's entry point: a message, not a traceback
    finally:  # main() sets up the node's logging on the root logger
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot start: tls.cert_file" in err, err
    assert "Traceback" not in err


def test_with_json_logs_the_refusal_to_start_is_a_json_line_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Operator walk: with ``[log] format = "json"`` the fatal "cannot start" line was plain
    text, and a collector parsing JSON lines lost it."""
    config = tmp_path / "node.toml"
    config.write_text(
        'index = 0\nname = "n"\nkey_file = "missing.key"\npassphrase_env = "PW"\n'
        'peer_port = 1\nhttp_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n\n'
        '[log]\nformat = "json"\n')
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert main(str(config)) == 2
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line one JSON object
    fatal = records[-1]
    assert fatal["level"] == "critical" and fatal["message"].startswith("cannot start: "), fatal


def test_an_unusable_certificate_or_key_is_a_startup_error_naming_tls(tmp_path: Path) -> None:
    from shell.config import TlsConfig
    from shell.server import StartupError

    (tmp_path / "first").mkdir()
    cert, _ = self_signed(tmp_path / "first")
    other_cert, other_key = self_signed(tmp_path)  # a key that is not the certificate's
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a PEM file\n")
    for tls in (TlsConfig(cert, other_key), TlsConfig(garbage, other_key),
                TlsConfig(other_cert, garbage)):
        n = node_with(tls=tls)

        async def go(n: Node = n) -> None:
            try:
                await n.start()
            finally:
                await n.stop()

        with pytest.raises(StartupError) as caught:
            asyncio.run(asyncio.wait_for(go(), 30))
        text = str(caught.value)
        assert text.startswith(f"cannot load the TLS certificate {tls.cert_file} or its key "
                               f"{tls.key_file} ([tls])"), text  # which files: operator walk
        assert "\n" not in text


# ---- 2. separate bind addresses -------------------------------------------------------------


def test_http_and_peers_listen_on_their_own_addresses() -> None:
    n = node_with(host="127.0.0.1", peer_host="127.0.0.1", http_host="127.0.0.2")

    async def go() -> None:
        await n.start()
        try:
            port = n.http_port()
            assert n._http is not None and n.peers._server is not None
            assert n._http.sockets[0].getsockname()[0] == "127.0.0.2"
            assert n.peers._server.sockets[0].getsockname()[0] == "127.0.0.1"
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"http://127.0.0.2:{port}/status") as resp:
                    assert resp.status == 200
                    assert (await resp.json())["chain_id"] == CHAIN
                with pytest.raises(aiohttp.ClientConnectorError):
                    async with session.get(f"http://127.0.0.1:{port}/status"):
                        pass
        finally:
            await n.stop()

    asyncio.run(asyncio.wait_for(go(), 30))


# ---- 3. startup errors ----------------------------------------------------------------------


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("setting", "what"), [("http_port", "HTTP"), ("peer_port", "peers")])
def test_a_taken_port_is_a_one_line_error_naming_the_setting(
        tmp_path: Path, setting: str, what: str) -> None:
    config, _ = one_node_network(tmp_path / "net")
    port = int(tomllib.loads(config.read_text())[setting])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_to_exit([sys.executable, "node.py", str(config)])
    line = assert_one_line_startup_error(result)
    host = setting.replace("port", "host")
    assert f"cannot listen for {what} on 127.0.0.1:{port} ({host}, {setting})" in line, line
    assert "in use" in line, line


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_a_second_node_on_a_data_directory_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    config, port = one_node_network(tmp_path / "net")
    with node_process(config, tmp_path / "first.log") as first:
        wait_ready([f"http://127.0.0.1:{port}"], 30)
        result = run_to_exit([sys.executable, "-m", "cli", "node", "start", "--config",
                              str(config)])
        assert first.poll() is None, "the first node must keep running"
    assert first.returncode == 0
    line = assert_one_line_startup_error(result)
    db = (tmp_path / "net" / "data" / "node0" / "db").resolve()
    assert f"the store in {db} is in use by another process" in line, line
    assert "LevelDB lock" in line, line


# ---- 4. the peers file ------------------------------------------------------------------------


def _peers_toml(*entries: tuple[bytes, str, int]) -> str:
    return "".join(f'[[peers]]\npubkey = "{k.hex()}"\nhost = "{h}"\nport = {p}\n\n'
                   for k, h, p in entries)


def test_targets_merge_the_config_and_the_peers_file_and_follow_the_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    peers_file = tmp_path / "peers.toml"
    a, b = bytes([0xA1]) * 32, bytes([0xB2]) * 32
    # index 5: no validator there (yet), so no key is expected at that address; index 0 is
    # this node itself, which it never dials (a rotated-out key's node looped on it)
    n = node_with(peers=(PeerAddr(5, "127.0.0.1", 40000), PeerAddr(0, "127.0.0.1", 39999)),
                  peers_file=peers_file)
    try:
        me = None
        assert n.peers.targets() == {("127.0.0.1", 40000): me}  # no file yet
        peers_file.write_text(_peers_toml((a, "127.0.0.1", 40001)))
        assert n.peers.targets() == {("127.0.0.1", 40000): me, ("127.0.0.1", 40001): a}

        def rewrite(text: str, step: int) -> None:
            peers_file.write_text(text)
            stamp = time.time() + step  # a new mtime even on a coarse clock
            os.utime(peers_file, (stamp, stamp))

        rewrite(_peers_toml((b, "127.0.0.1", 40002), (a, "127.0.0.1", 40003)), 1)
        assert n.peers.targets() == {("127.0.0.1", 40000): me, ("127.0.0.1", 40002): b,
                                     ("127.0.0.1", 40003): a}
        rewrite("[[peers]]\npubkey = \"not hex\"\n", 2)  # broken: the last list is kept
        assert set(n.peers.targets()) == {("127.0.0.1", 40000), ("127.0.0.1", 40002),
                                          ("127.0.0.1", 40003)}
        peers_file.unlink()  # gone: the last list is kept
        assert ("127.0.0.1", 40002) in n.peers.targets()
        rewrite(_peers_toml(), 3)  # emptied: no file peers left
        assert n.peers.targets() == {("127.0.0.1", 40000): me}
        # each is said once, not at every re-read (operator walk: a broken file was warned
        # of every 2 s; an index past the set and a missing file never)
        for _ in range(3):
            n.peers.targets()
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("index = 5" in m for m in said) == 1, said
        assert sum("not hex" in m or "pubkey" in m for m in said) == 1, said
        assert sum("No such file" in m for m in said) == 2, said  # at first, and once gone
    finally:
        n.admission.close()


_PEER_ENTRY = re.compile(r'\[\[peers\]\]\nindex = \d+\nhost = "[^"\n]*"\nport = \d+\n')


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_a_peer_added_to_the_peers_file_is_dialled_while_the_node_runs(tmp_path: Path) -> None:
    net = tmp_path / "net"
    init_network(net, 2, "ed25519-sha256", "peers-file", clients=0, heartbeat_ms=1000)
    configs = [net / "node0.toml", net / "node1.toml"]
    for path in configs:  # neither node knows where the other is
        path.write_text(_PEER_ENTRY.sub("", path.read_text()))
    configs[0].write_text('peers_file = "peers0.toml"\n' + configs[0].read_text())
    (net / "peers0.toml").write_text(_peers_toml())
    node1 = tomllib.loads(configs[1].read_text())
    node1_key = bytes.fromhex(json.loads((net / "genesis.json").read_text())
                              ["validators"][1]["pubkey"])
    urls = [f"http://127.0.0.1:{tomllib.loads(c.read_text())['http_port']}" for c in configs]
    clients = [NodeClient(u, timeout_s=3.0) for u in urls]
    with node_process(configs[0], tmp_path / "n0.log"), \
            node_process(configs[1], tmp_path / "n1.log"):
        wait_ready(urls, 30)
        time.sleep(3)  # more than a refresh period: nothing to dial, nothing links
        before = [c.status() for c in clients]
        assert [s["peers"] for s in before] == [[], []]
        assert [s["height"] for s in before] == [0, 0]  # 2 of 2 votes needed: no commits
        (net / "peers0.toml").write_text(
            _peers_toml((node1_key, "127.0.0.1", int(node1["peer_port"]))))
        added = time.monotonic()
        deadline = added + 40
        after = before
        while time.monotonic() < deadline:
            after = [c.status() for c in clients]
            if after[0]["peers"] == [1] and after[1]["peers"] == [0] and \
                    min(s["height"] for s in after) >= 1:
                break
            time.sleep(0.25)
        took = time.monotonic() - added
    assert after[0]["peers"] == [1] and after[1]["peers"] == [0], after
    assert min(s["height"] for s in after) >= 1, after  # linked: the chain commits
    print(f"linked and committing {took:.1f} s after the peers file named the peer")


# ---- 5. JSON logs, --version ------------------------------------------------------------------


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    config, port = one_node_network(tmp_path / "net", '\n[log]\nformat = "json"\n')
    log_path = tmp_path / "node.log"
    with node_process(config, log_path, cli=True) as proc:
        wait_ready([f"http://127.0.0.1:{port}"], 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records and all(isinstance(r, dict) for r in records)
    for r in records:
        assert r["level"] in ("debug", "info", "warning", "error", "critical"), r
        assert isinstance(r["message"], str) and r["message"], r
        assert r["time"].endswith("Z") and r["logger"].startswith("credchain"), r
    messages = [r["message"] for r in records]
    assert any(m.startswith("node node0 (validator 0) up") for m in messages), messages
    assert any(m == "node node0 stopped" for m in messages), messages
    # what the node wrote is its user's alone: the store holds bidder secrets (auditor walk)
    db = next(config.parent.rglob("db"))
    for path in [db, *db.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_a_bundle_of_the_most_keys_fits_the_request_line(tmp_path: Path) -> None:
    """``GET /proofs`` names up to 256 keys of up to 512 characters: the node's request
    line holds them, escaped too (aiohttp's default 8,190 bytes answered 256 keys of 40
    characters with a plain-text 400, before the API could say anything). A line longer
    than that bound is still refused."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from ledger.bundle import MAX_KEY_LEN
    from ledger.multi import MAX_ENTRIES

    config, port = one_node_network(tmp_path / "net")
    url = f"http://127.0.0.1:{port}"
    keys = [f"param/absent-{i:03d}-".ljust(MAX_KEY_LEN, "x") for i in range(MAX_ENTRIES)]
    keys[1] = "param/标书-".ljust(MAX_KEY_LEN, "号")  # 3 bytes a character, each escaped
    query = "&".join(f"key={urllib.parse.quote(k, safe='/')}" for k in keys)
    assert len(query) > 8190 * 16
    with node_process(config, tmp_path / "node.log"):
        wait_ready([url], 30)
        client = NodeClient(url, timeout_s=30.0)
        deadline = time.monotonic() + 30
        while client.status()["height"] < 1:  # a bundle needs a committed block
            assert time.monotonic() < deadline, "no block in 30 s"
            time.sleep(0.2)
        got = client.get(f"/proofs?{query}")
        assert sorted(e["key"] for e in got["entries"]) == sorted(keys)
        assert all(e["value"] is None for e in got["entries"])  # each proved absent
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/proofs?{query}&key={'y' * 500_000}", timeout=30)
        assert refused.value.code == 400


def test_version_prints_the_package_version_and_exits_0() -> None:
    code, text = invoke("--version")
    assert code == 0, text
    assert text.strip() == f"credchain, version {version('credchain')}"


def test_a_held_lock_is_said_plainly_whoever_opens_the_store() -> None:
    """plyvel reports bytes (``b'IO error: lock …'``); audit replay --data printed that repr
    (verifier walk). One wording for node start, audit and state sync."""
    from ledger.kv import open_failure

    held = OSError(b"IO error: lock /x/db/LOCK: Resource temporarily unavailable")
    assert open_failure("/x/db", held) == (
        "the store in /x/db is in use by another process (its LevelDB lock is held: is its "
        "node running? stop it, or read a copy)")
    # a LOCK file the node may not write is no held lock (operator walk: a read-only store
    # was reported as in use by another process)
    denied = OSError(b"IO error: /x/db/LOCK: Permission denied")
    assert open_failure("/x/db", denied).startswith(
        "cannot open the store in /x/db: IO error: /x/db/LOCK: Permission denied (LevelDB "
        "writes in the store as it opens it")
    read_only = OSError(b"IO error: /x/db/LOCK: Read-only file system")
    assert "in use by another process" not in open_failure("/x/db", read_only)
    other = OSError(b"Corruption: bad block\nmore")
    assert open_failure("/x/db", other) == "cannot open the store in /x/db: Corruption: bad block"
    # an OS error is said by its text, not its errno (operator walk: "...: 20")
    assert open_failure("/x/db", NotADirectoryError(20, "Not a directory", "/x")) == (
        "cannot open the store in /x/db: Not a directory")


def test_a_data_dir_under_a_file_is_named_by_its_reason(tmp_path: Path) -> None:
    config, _ = one_node_network(tmp_path / "net")
    (tmp_path / "afile").write_text("not a folder")
    text = config.read_text()
    config.write_text(re.sub(r'(?m)^data_dir = .*$', f'data_dir = "{tmp_path}/afile/data"', text))
    code, said = invoke("node", "start", "--config", str(config))
    assert code == 2, said
    assert "Not a directory" in said and "Traceback" not in said, said
    # data_dir itself a file (operator walk: "cannot open the store in …/db: File exists")
    config.write_text(re.sub(r'(?m)^data_dir = .*$', f'data_dir = "{tmp_path}/afile"', text))
    code, said = invoke("node", "start", "--config", str(config))
    assert code == 2 and "afile is a file, not a directory" in said, said


def test_index_in_a_config_is_a_cross_check_and_may_be_left_out(tmp_path: Path) -> None:
    """A config's ``index`` names the key's place in the set: a wrong one is refused at start,
    and a config without one (``node init`` writes none for a node not yet voted in) takes
    its place from the chain."""
    import re

    from shell.config import NodeConfig
    from shell.server import Node, StartupError

    config, _ = one_node_network(tmp_path / "net")
    text = config.read_text()
    config.write_text(re.sub(r"(?m)^index = 0.*$", "index = 1", text))
    with pytest.raises(StartupError, match="the config says index = 1, but this key is "
                                           "validator 0"):
        Node.open(NodeConfig.load(config))
    config.write_text(re.sub(r"(?m)^index = 0.*$", "", text))
    node = Node.open(NodeConfig.load(config))
    try:
        assert node.config.index is None and node.driver.replica.index == 0
    finally:
        node.admission.close()
        node.chain.close()
    # a key that is no validator's, under a config that says it is one (operator walk: a
    # copied config with another key ran as an observer, silently)
    from ledger import keyfile
    from ledger.crypto import ED25519_SHA256

    phrase = (tmp_path / "net" / "passphrase").read_bytes().strip()
    keyfile.save_key(tmp_path / "net" / "stranger.key", ED25519_SHA256,
                     ED25519_SHA256.generate_secret(), phrase)
    config.write_text(text.replace('key_file = "node0.key"', 'key_file = "stranger.key"'))
    with pytest.raises(StartupError, match="the config says index = 0, but this key is not in "
                                           "the validator set at height 0: rotated out or "
                                           "removed"):
        Node.open(NodeConfig.load(config))


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_network_up_killed_takes_its_nodes_with_it(tmp_path: Path) -> None:
    """``kill -9`` of ``network up`` left its nodes running, orphaned, their ports held
    (operator walk): each node now gets SIGTERM when its parent dies, and stops cleanly."""
    _, port = one_node_network(tmp_path / "net")
    up = subprocess.Popen([sys.executable, "-m", "cli", "network", "up", str(tmp_path / "net")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          cwd=str(PROJECT_DIR))
    try:
        wait_ready([f"http://127.0.0.1:{port}"], 60)
        children = subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 1, children
        node = int(children[0])
        up.kill()
        up.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(node, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(node, signal.SIGKILL)
            raise AssertionError("the node outlived network up by 20 s")
        log = (tmp_path / "net" / "logs" / "node0.log").read_text()
        assert "stopped" in log.lower() or "stopping" in log.lower(), log[-2000:]
    finally:
        if up.poll() is None:
            up.kill()


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_network_up_keeps_the_others_running_when_one_validator_exits(tmp_path: Path) -> None:
    """The README restarts one validator of ``network up`` with SIGTERM; ``network up`` then
    stopped all of them (user walk of 2026-12-03). It now names the one that exited, with
    the command that starts it again, and the others keep running."""
    init_network(tmp_path / "net", 2, "ed25519-sha256", "ops-edges", clients=0,
                 heartbeat_ms=1000)
    urls = [str(n["http"]) for n in json.loads((tmp_path / "net" / "network.json").read_text())[
        "nodes"]]
    up = subprocess.Popen([sys.executable, "-m", "cli", "network", "up", str(tmp_path / "net")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(PROJECT_DIR))
    try:
        wait_ready(urls, 60)
        node1 = subprocess.run(["pgrep", "-f", "--", str(tmp_path / "net" / "node1.toml")],
                               capture_output=True, text=True).stdout.split()
        assert len(node1) == 1, node1
        os.kill(int(node1[0]), signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", "--", str(tmp_path / "net" / "node1.toml")],
                capture_output=True).returncode == 0:
            time.sleep(0.2)
        time.sleep(1.5)  # network up polls every 0.2 s
        assert up.poll() is None, "network up stopped with one validator of two"
        assert NodeClient(urls[0]).status()["chain_id"] == "ops-edges"
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=30)
        text = err.decode()
        assert "validator 1 exited (code 0): " in text and "the others keep running" in text, text
        assert f"credchain node start --config {tmp_path / 'net' / 'node1.toml'}" in text, text
        assert up.returncode == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_a_second_network_up_of_a_running_network_says_why_and_fails(tmp_path: Path) -> None:
    """Operator walk: it exited 0 after "validator 0 exited (code 2) ... Start it again",
    the reason (the store's lock) only in the node's log."""
    _, port = one_node_network(tmp_path / "net")
    command = [sys.executable, "-m", "cli", "network", "up", str(tmp_path / "net")]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=str(PROJECT_DIR))
    try:
        wait_ready([f"http://127.0.0.1:{port}"], 60)
        second = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                cwd=str(PROJECT_DIR))
        assert second.returncode == 1, second.stderr
        assert "validator 0 exited (code 2): " in second.stderr, second.stderr
        assert "in use by another process" in second.stderr, second.stderr
        assert "Start it again" not in second.stderr, second.stderr
        assert NodeClient(f"http://127.0.0.1:{port}").status()["height"] >= 0  # untouched
    finally:
        first.send_signal(signal.SIGTERM)
        try:
            first.wait(30)
        except subprocess.TimeoutExpired:
            first.kill()


def test_a_config_that_is_not_utf8_is_refused_as_a_config(tmp_path: Path) -> None:
    """Operator walk: a config saved in another encoding stopped the node as an error
    (``UnicodeDecodeError``, exit 1), where other bad configs are refused (exit 2)."""
    config = tmp_path / "node.toml"
    config.write_bytes('name = "汕尾"\n'.encode("gb18030"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        NodeConfig.load(config)


@pytest.mark.parametrize("peers,reason", [
    ('[[peers]]\nindex = 1\nhost = "h"\nport = 0\n', "peers[0]: setting 'port' must be"),
    ('[[peers]]\nindex = 1\nhost = "h"\nport = 5\n[[peers]]\nindex = 2\nhost = "h"\nport = 5\n',
     "peers[0] and peers[1] both name h:5"),
    ('[[peers]]\nindex = 1\nhost = "a"\nport = 5\n[[peers]]\nindex = 1\nhost = "b"\nport = 5\n',
     "peers[0] and peers[1] both name validator 1"),
    ('[[peers]]\nindex = 1\nhost = "a"\nport = 5\nprot = 6\n', "peers[0]: unknown setting 'prot'"),
])
def test_a_peer_entry_that_cannot_be_right_is_named(tmp_path: Path, peers: str,
                                                    reason: str) -> None:
    """An operator's typo in [[peers]] (operator walk: a port of 0 was refused without
    naming the entry; two entries with one address were not flagged)."""
    config = tmp_path / "node.toml"
    config.write_text(
        'index = 0\nname = "n"\nkey_file = "k"\npassphrase_env = "PW"\npeer_port = 1\n'
        'http_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n\n' + peers)
    with pytest.raises(ConfigError, match=re.escape(reason)):
        NodeConfig.load(config)


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_a_peer_that_cannot_be_reached_is_in_the_log(tmp_path: Path) -> None:
    """A wrong peer address (or a peer down) was dialled in silence (operator walk): the
    first failure is logged with the address, then at most every few minutes."""
    out = tmp_path / "net"
    init_network(out, 2, "ed25519-sha256", "unreachable", clients=0, heartbeat_ms=1000)
    other = int(tomllib.loads((out / "node1.toml").read_text())["peer_port"])
    log = tmp_path / "node0.log"
    with node_process(out / "node0.toml", log):  # node1 is never started
        deadline = time.monotonic() + 30
        while f"cannot reach peer 127.0.0.1:{other}" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        time.sleep(3)  # more failed dials, backing off: not more lines
    assert log.read_text().count(f"cannot reach peer 127.0.0.1:{other}") == 1


@pytest.mark.parametrize("extra,reason", [
    ('passphrase_file = "p"\npeer_port = 7\nhttp_port = 8\n',
     "set passphrase_file or passphrase_env, not both"),
    ('peer_port = 7\nhttp_port = 7\n', "peer_port and http_port are both 7"),
])
def test_a_config_that_cannot_work_says_why_in_one_line(tmp_path: Path, extra: str,
                                                        reason: str) -> None:
    """Operator walk: with both passphrase settings the node said the variable was not set;
    one port for both said 'address already in use'."""
    config = tmp_path / "node.toml"
    config.write_text('index = 0\nname = "n"\nkey_file = "k"\npassphrase_env = "PW"\n'
                      'data_dir = "d"\ngenesis_file = "g.json"\n' + extra)
    with pytest.raises(ConfigError, match=re.escape(reason)):
        NodeConfig.load(config)


def test_the_log_says_when_the_node_turns_unhealthy_and_when_it_recovers(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Operator walk: with two of four validators killed, clients waited and the log never
    said the chain had stopped (``/healthz`` did). A reason is logged once it has held for
    ``HEALTH_LOG_AFTER_S`` (a start links its peers first), once, and the recovery too."""
    from types import SimpleNamespace

    from shell import server

    clock = [100.0]
    monkeypatch.setattr("shell.server.time.monotonic", lambda: clock[0])
    said = [(True, "ok")]
    node = SimpleNamespace(health=lambda: said[0], _health_seen=("ok", 100.0, True))

    def step(seconds: float, health: tuple[bool, str]) -> None:
        clock[0] += seconds
        said[0] = health
        server.Node._log_health(node)  # type: ignore[arg-type]

    caplog.set_level(logging.INFO, logger=server.log.name)
    step(1, (False, "no quorum: linked to 2 of 4 validators"))
    step(5, (False, "no quorum: linked to 2 of 4 validators"))
    assert not caplog.records  # a start links its peers in the first seconds
    step(6, (False, "no quorum: linked to 1 of 4 validators"))
    step(20, (False, "no quorum: linked to 1 of 4 validators"))
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "unhealthy for 11 s: no quorum: linked to 1 of 4" in \
        warned[0].getMessage()
    step(1, (True, "ok"))
    assert "healthy again after 32 s (no quorum)" in caplog.records[-1].getMessage()
    step(1, (False, "catching up: at height 5, peers at 9"))
    step(1, (True, "ok"))  # a blip shorter than the delay is not logged
    assert len(caplog.records) == 2

"""An operator's life with real validator processes on loopback: a damaged store refused at
start with one line naming the fix, ``node resync`` rebuilding it from the peers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import schema
from ledger.kv import LevelKV
from shell.client import NodeClient
from shell.localnet import PROJECT_DIR, LocalNet, init_network, wait_ready

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(240)]


def wait_height(urls: list[str], height: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if min(NodeClient(u).status()["height"] for u in urls) >= height:
                return
        except Exception:  # a node still starting
            pass
        time.sleep(0.2)
    raise AssertionError(f"nodes did not reach height {height} within {timeout_s} s")


def credchain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          cwd=str(PROJECT_DIR), timeout=60)


def test_a_damaged_store_is_refused_and_node_resync_rebuilds_it(tmp_path: Path) -> None:
    init_network(tmp_path / "net", 4, "ed25519-sha256", "ops", clients=0, heartbeat_ms=300)
    net = LocalNet(tmp_path / "net")
    net.start_all()
    try:
        wait_ready(net.urls, 30)
        wait_height(net.urls, 6, 60)
        assert net.stop(3) == 0
        db = tmp_path / "net" / "data" / "node3" / "db"
        kv = LevelKV(str(db), create=False)
        head = int(NodeClient(net.urls[0]).status()["height"])
        victim = schema.block_key(2)
        raw = kv.get(victim)
        assert raw is not None
        batch = kv.batch()
        batch.put(victim, raw.replace(b"time_ms", b"time_mz", 1))  # a damaged record
        kv.write(batch)
        kv.close()
        config = str(tmp_path / "net" / "node3.toml")
        started = credchain("node", "start", "--config", config)
        assert started.returncode == 2, started.stderr
        line = started.stderr.strip().splitlines()[-1]
        assert "is damaged" in line and "credchain node resync --config" in line, line
        assert "Traceback" not in started.stderr

        done = credchain("node", "resync", "--config", config, "--yes")
        assert done.returncode == 0, done.stderr
        assert "vote records were carried over" in done.stdout
        assert len(list(db.parent.glob("db.old-*"))) == 1
        net.start(3)
        wait_height(net.urls, head + 3, 60)
        hashes = {NodeClient(u).request("GET", f"/headers/{head}")["hash"] for u in net.urls}
        assert len(hashes) == 1, "the rebuilt store agrees with the others"
        # Past the heights it had voted at, it votes again.
        assert NodeClient(net.urls[3]).status()["index"] == 3
        # and its log never contradicts the resync (operator walk: "vote records were
        # carried over", then "not voting: its vote records are missing")
        log = (tmp_path / "net" / "logs" / "node3.log").read_text()
        assert "its vote records are missing" not in log, log[-3000:]
    finally:
        codes = net.stop_all()
    assert codes == [0, 0, 0] or codes == [0, 0, 0, 0], codes


def test_a_flipped_byte_in_the_leveldb_files_is_refused_at_start(tmp_path: Path) -> None:
    """The report that opened issue 9: a byte flipped in a stopped node's LevelDB log. The
    node must refuse to start with one line naming the damage and the resync command, not
    drop the damaged records silently and serve errors (or wrong answers) later."""
    init_network(tmp_path / "net", 4, "ed25519-sha256", "flip", clients=0, heartbeat_ms=200)
    net = LocalNet(tmp_path / "net")
    net.start_all()
    try:
        wait_ready(net.urls, 30)
        wait_height(net.urls, 5, 60)
        assert net.stop(3) == 0
    finally:
        net.stop_all()
    db = tmp_path / "net" / "data" / "node3" / "db"
    files = sorted((p for p in db.iterdir() if p.suffix in (".log", ".ldb")),
                   key=lambda p: p.stat().st_size)
    victim = files[-1]
    data = bytearray(victim.read_bytes())
    assert len(data) > 1000, f"{victim.name} has only {len(data)} bytes"
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    started = credchain("node", "start", "--config", str(tmp_path / "net" / "node3.toml"))
    assert started.returncode == 2, (victim.name, started.stderr[-2000:])
    line = started.stderr.strip().splitlines()[-1]
    assert "damaged" in line and "credchain node resync --config" in line, line
    assert "Traceback" not in started.stderr

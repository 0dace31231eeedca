"""The node's lifecycle: stopping in bounded time, a forced exit on a second signal, a
replica failure that stops the process with a non-zero code, and a store whose record of
this validator's own votes is missing (the double-sign guard)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from consensus import durable
from consensus.api import Event
from shell import server
from shell.config import NodeConfig
from shell.localnet import LocalNet, init_network
from tests.test_api import make_node

STOP_BOUND_S = 5.0


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_each_validator_stops_within_five_seconds_while_its_peers_run(tmp_path: Path) -> None:
    init_network(tmp_path / "net", 4, "ed25519-sha256", "life", clients=0, heartbeat_ms=1000)
    net = LocalNet(tmp_path / "net")
    net.start_all()
    try:
        from shell.localnet import wait_ready

        wait_ready(net.urls, 30)
        took = []
        for i in range(4):
            p = net.procs[i]
            assert p is not None
            started = time.monotonic()
            p.send_signal(signal.SIGTERM)
            code = p.wait(30)
            took.append(time.monotonic() - started)
            assert code == 0, f"validator {i} exited {code}"
            net.procs[i] = None
            net.start(i)  # back in before the next one stops: the others keep running
            wait_ready([net.urls[i]], 30)
        assert max(took) < STOP_BOUND_S, f"stop times {took}"
        print("seconds to exit on SIGTERM, validators 0..3:", [round(t, 2) for t in took])
    finally:
        codes = net.stop_all()
    assert codes == [0, 0, 0, 0]


def test_a_second_signal_exits_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)  # the os module shell.server calls
    n = make_node()
    n.on_signal()
    assert n.stopping.is_set() and exits == []
    n.on_signal()
    assert exits == [server.EXIT_FORCED]
    n.admission.close()


def test_a_failed_replica_step_stops_the_node_with_the_reason(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    n = make_node()

    def broken(event: Event) -> Any:
        raise AssertionError("a broken invariant")

    monkeypatch.setattr(n.driver, "step", broken)

    async def go() -> None:
        await n.run()

    with pytest.raises(AssertionError, match="a broken invariant"):
        asyncio.run(asyncio.wait_for(go(), 20))
    assert "replica step failed, stopping: AssertionError: a broken invariant" in caplog.text
    monkeypatch.setattr(server.Node, "open", classmethod(lambda cls, c, v=False: make_broken()))
    monkeypatch.setattr(NodeConfig, "load", staticmethod(lambda p: None))
    assert server.main("unused.toml") == 1


def make_broken() -> server.Node:
    n = make_node()

    def broken(event: Event) -> Any:
        raise AssertionError("a broken invariant")

    n.driver.step = broken  # type: ignore[method-assign]
    return n


def test_a_store_without_the_record_of_its_own_votes_does_not_vote_until_confirmed() -> None:
    n = make_node()
    chain = n.chain
    assert chain.votes_are_mine(chain.suite.public_key(bytes(range(32))))  # a new store
    n.admission.close()

    async def commit_some() -> None:
        n.start_core()
        deadline = time.monotonic() + 10
        while chain.height() < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)

    asyncio.run(commit_some())
    assert chain.height() >= 2  # blocks are committed; then the owner record is lost
    batch = chain.kv.batch()
    batch.delete(durable.OWNER_KEY)
    chain.kv.write(batch)
    restored = server.Node(n.config, chain, bytes(range(32)))
    assert restored.votes_missing and restored.driver.replica.index is None
    ok, reason = restored.health()
    assert not ok and "--confirm-lost-votes" in reason
    assert restored.status()["abstaining"] is True
    # abstaining is not "removed": its seat is still its place in the set (operator walk: an
    # alert on the seat metric read -1, "removed or rotated out")
    assert restored.status()["index"] is None and restored.status()["seat"] == 0
    assert "\ncredchain_validator_seat 0\n" in restored.metrics.render()
    restored.admission.close()
    confirmed = server.Node(n.config, chain, bytes(range(32)), confirm_lost_votes=True)
    assert not confirmed.votes_missing and confirmed.driver.replica.index == 0
    again = server.Node(n.config, chain, bytes(range(32)))  # confirmed once: ours from now on
    assert not again.votes_missing
    for node in (confirmed, again):
        node.admission.close()

"""``shell.localnet.free_ports``: the ports a local network listens on are free, distinct, and
drawn below the kernel's ephemeral range, so that the connections nodes open while the
others start never take one of them (a fault-proxy test once failed with "address already
in use" when an outgoing connection got the port node 0 was about to bind)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from shell import localnet


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    start = localnet._ephemeral_start()
    assert start is not None, "this Linux machine has /proc/sys/net/ipv4/ip_local_port_range"
    ports = localnet.free_ports(16)
    assert len(set(ports)) == 16
    assert all(1_024 <= p < start for p in ports), (ports, start)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    start = localnet._ephemeral_start()
    assert start is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", start - 1))
        squatter.listen()
        draws = iter([start - 1, start - 1, start - 2])
        monkeypatch.setattr(random.SystemRandom, "randrange",  # secrets.SystemRandom's class
                            lambda self, low, high: next(draws))
        assert localnet.free_ports(1) == [start - 2]


def test_without_the_range_the_os_picks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(localnet, "_EPHEMERAL_RANGE", tmp_path / "missing")
    assert localnet._ephemeral_start() is None
    ports = localnet.free_ports(4)
    assert len(set(ports)) == 4 and all(p > 0 for p in ports)

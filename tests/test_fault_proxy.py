"""The fault-injecting proxy: each fault does what it says on an echo server, a schedule is
a function of its seed; then real validator processes behind the proxy (``tests.faultnet``)
survive seeded schedules of every fault kind with safety and liveness checked.

The multi-process tests run nodes on distinct addresses in network namespaces this test
creates (as root; skipped, with the reason, where that is impossible) and once on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from consensus.securechannel import MAGIC
from ledger.linkcrypto import SM2_LINK, X25519_LINK
from tests.faultnet import CI_SEEDS, netns_unavailable, run_schedule
from tests.faultproxy import HEALED, Fault, FaultProxy, Kind, Phase, Schedule

HELLO = MAGIC + bytes((1, X25519_LINK.code)) + bytes(range(32))
SM2_HELLO = MAGIC + bytes((1, SM2_LINK.code)) + bytes(range(65))
CLIENT, SERVER = 0, 1
UP, DOWN = (CLIENT, SERVER), (SERVER, CLIENT)  # flows: client → server, server → client


def record(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def payloads(n: int, size: int = 40) -> list[bytes]:
    return [f"{k:04d}".encode() * (size // 4) for k in range(n)]


class Echo:
    """A server that echoes what it gets and remembers it, per connection."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.server: asyncio.Server | None = None

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = bytearray()
        self.received.append(got)
        # Cancelled only when a failed test leaves it running at the loop's end.
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while data := await r.read(65536):
                got += data
                w.write(data)
                await w.drain()
        w.close()


@contextlib.asynccontextmanager
async def echo_behind_proxy() -> AsyncIterator[tuple[FaultProxy, Echo, int]]:
    echo = Echo()
    echo.server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    proxy = FaultProxy()
    port = await proxy.add_link(CLIENT, SERVER, "127.0.0.1",
                                ("127.0.0.1", echo.server.sockets[0].getsockname()[1]))
    try:
        yield proxy, echo, port
    finally:
        await proxy.close()
        echo.server.close()


async def connect(port: int, hello: bytes = HELLO
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection whose HELLO has gone through and come back (so records follow)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(hello)
    assert await asyncio.wait_for(r.readexactly(len(hello)), 5) == hello
    return r, w


QUIET_S = 0.6  # "nothing comes": no record for this long (only where none may come)


async def read_records(r: asyncio.StreamReader, want: int, quiet_s: float = 10.0) -> list[bytes]:
    """Records read until ``want`` have come or none came for ``quiet_s``."""
    out: list[bytes] = []
    with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError):
        while len(out) < want:
            prefix = await asyncio.wait_for(r.readexactly(4), quiet_s)
            out.append(await asyncio.wait_for(r.readexactly(int.from_bytes(prefix, "big")), 5))
    return out


async def until(pred: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def one(flow: tuple[int, int], fault: Fault, seed: int = 1) -> Phase:
    return Phase(10_000, "test", ((flow, fault),), seed)


async def send(w: asyncio.StreamWriter, items: list[bytes]) -> None:
    w.write(b"".join(record(p) for p in items))
    await w.drain()


def test_relays_records_and_other_bytes_unchanged_without_faults() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            items = payloads(20) + [b"x" * 300_000]
            await send(w, items)
            assert await read_records(r, len(items)) == items
            w.close()
            r, w = await connect(port, SM2_HELLO)  # a longer key: records still found
            proxy.apply(one(UP, Fault(Kind.DUPLICATE, probability=1.0)))
            await send(w, items[:3])
            assert await read_records(r, 6) == [p for p in items[:3] for _ in (0, 1)]
            proxy.heal()
            w.close()
            r, w = await asyncio.open_connection("127.0.0.1", port)  # not a secure link
            blob = bytes(range(256)) * 1000
            w.write(blob)
            assert await asyncio.wait_for(r.readexactly(len(blob)), 5) == blob
            w.close()

    asyncio.run(body())


def test_drop_discards_whole_records_and_the_same_ones_for_the_same_seed() -> None:
    async def run(seed: int) -> list[bytes]:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.DROP, probability=0.5), seed))
            items = payloads(30)
            await send(w, items)
            await until(lambda: proxy.flow_units[UP] == 31)  # the HELLO, 30 records
            got = await read_records(r, 30 - proxy.stats["dropped"])
            assert len(got) == 30 - proxy.stats["dropped"] < 30
            assert got == [p for p in items if p in got]  # a subsequence, in order
            return got

    first = asyncio.run(run(7))
    assert asyncio.run(run(7)) == first
    assert asyncio.run(run(8)) != first


def test_duplicate_sends_records_twice() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.DUPLICATE, probability=1.0)))
            items = payloads(4)
            await send(w, items)
            assert await read_records(r, 8) == [p for p in items for _ in (0, 1)]

    asyncio.run(body())


def test_reorder_swaps_a_record_with_the_next_and_flushes_a_lone_one() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.REORDER, probability=1.0)))
            a, b, c, d, e = payloads(5)
            await send(w, [a, b, c, d, e])
            assert await read_records(r, 5) == [b, a, d, c, e]
            assert proxy.stats["reordered"] == 3

    asyncio.run(body())


def test_delay_holds_each_record_and_keeps_the_order() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.DELAY, delay_ms=300, jitter_ms=200)))
            items = payloads(20)
            started = time.monotonic()
            await send(w, items[:1])
            assert await read_records(r, 1) == items[:1]
            assert time.monotonic() - started >= 0.1  # 300 ± 200 ms
            await send(w, items[1:])
            assert await read_records(r, 19) == items[1:]

    asyncio.run(body())


def test_slow_caps_the_byte_rate() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, _, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.SLOW, bytes_per_s=20_000)))
            started = time.monotonic()
            await send(w, [b"s" * 30_000])
            assert await read_records(r, 1) == [b"s" * 30_000]
            assert time.monotonic() - started >= 1.2  # 30 kB at 20 kB/s

    asyncio.run(body())


def test_one_way_hold_passes_the_other_way_and_delivers_after_the_heal() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, echo, port):
            r, w = await connect(port)
            proxy.apply(one(DOWN, Fault(Kind.ONE_WAY, mode="hold")))
            items = payloads(5)
            await send(w, items)
            assert await read_records(r, 5, QUIET_S) == []  # the echo's answer is held ...
            # ... what the echo got was not:
            await until(lambda: echo.received[-1].endswith(record(items[-1])))
            proxy.heal()
            assert await read_records(r, 5) == items

    asyncio.run(body())


def test_one_way_discard_loses_what_was_sent_during_it() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, echo, port):
            r, w = await connect(port)
            proxy.apply(one(UP, Fault(Kind.ONE_WAY, mode="discard")))
            lost, later = payloads(3), [b"after the heal"]
            await send(w, lost)
            assert await read_records(r, 3, QUIET_S) == []
            assert echo.received[-1] == bytearray(HELLO)
            proxy.heal()
            await send(w, later)
            assert await read_records(r, 1) == later
            assert proxy.stats["discarded"] == 3

    asyncio.run(body())


async def is_reset(r: asyncio.StreamReader, within_s: float) -> bool:
    try:
        return await asyncio.wait_for(r.read(1), within_s) == b""
    except TimeoutError:  # before OSError, of which it is a subclass
        return False
    except (ConnectionError, OSError):
        return True


def test_partition_reject_resets_live_and_new_connections_until_healed() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, echo, port):
            r, _ = await connect(port)
            proxy.apply(one(UP, Fault(Kind.PARTITION, mode="reject")))
            assert await is_reset(r, 3)
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            w2.write(HELLO)
            assert await is_reset(r2, 3)
            assert len(echo.received) == 1  # the server never saw the second
            proxy.apply(HEALED)
            r3, w3 = await connect(port)
            await send(w3, [b"healed"])
            assert await read_records(r3, 1) == [b"healed"]

    asyncio.run(body())


def test_partition_blackhole_answers_nothing_and_resets_at_the_heal() -> None:
    async def body() -> None:
        async with echo_behind_proxy() as (proxy, echo, port):
            proxy.apply(one(DOWN, Fault(Kind.PARTITION, mode="blackhole")))
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(HELLO)
            assert not await is_reset(r, 0.8)  # accepted, swallowed, no answer
            assert echo.received == [] and proxy.stats["blackholed"] == 1
            proxy.heal()
            assert await is_reset(r, 3)
            r2, w2 = await connect(port)
            await send(w2, [b"healed"])
            assert await read_records(r2, 1) == [b"healed"]

    asyncio.run(body())


def test_a_schedule_is_a_function_of_its_seed_and_bounded() -> None:
    for seed in range(200):
        s = Schedule.from_seed(seed)
        assert s == Schedule.from_seed(seed)
        assert 2 <= len(s.phases) <= 4
        assert all(2_000 <= p.duration_ms <= 5_000 for p in s.phases)
        for phase in s.phases:
            faults = dict(phase.faults)
            for (src, dst), fault in faults.items():
                assert src != dst and 0 <= src < 4 and 0 <= dst < 4
                if fault.kind is Kind.PARTITION:  # always both ways
                    assert faults.get((dst, src)) == fault
        assert f"seed={seed}" in s.describe()
    assert Schedule.from_seed(1) != Schedule.from_seed(2)


def test_the_ci_seeds_cover_every_fault_kind_and_mode() -> None:
    faults = {f for seed in CI_SEEDS for p in Schedule.from_seed(seed).phases
              for _, f in p.faults}
    assert {f.kind for f in faults} == set(Kind)
    assert {f.mode for f in faults} >= {"hold", "discard", "reject", "blackhole"}


# ---- real nodes behind the proxy ----------------------------------------------------------


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", CI_SEEDS[:-1])
def test_nodes_in_namespaces_survive_a_fault_schedule(seed: int, tmp_path: Path) -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"network namespaces unavailable here ({reason}); the loopback test "
                    "runs the proxy instead")
    asyncio.run(run_schedule(Schedule.from_seed(seed), tmp_path, netns=True))


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
def test_nodes_on_loopback_survive_a_fault_schedule(tmp_path: Path) -> None:
    asyncio.run(run_schedule(Schedule.from_seed(CI_SEEDS[-1]), tmp_path, netns=False))

"""Secure peer links: handshake time and sealed-frame throughput, per suite.

    .venv/bin/python benchmarks/bench_securelink.py [--handshakes 40] [--repeats 5] [--mib 16]

For each suite (``ed25519-sha256``: X25519, ChaCha20-Poly1305; ``sm2-sm3``: SM2 ECDH, SM4-GCM):

- handshake, CPU only: both sides' ``consensus.securechannel.Handshake`` driven in one process
  (key generation, agreement, HKDF, one signature and one verification each);
- handshake over loopback TCP: ``shell.securelink.secure_handshake`` on both ends, from the
  dialler's connect to its established stream;
- seal + open, CPU only: one direction's records sealed and opened in memory, frames of
  1 KiB, 64 KiB and 1 MiB;
- over loopback TCP: ``--mib`` MiB of 64 KiB and 1 MiB frames from one node to the other
  through ``SecureStream`` (sealing, the socket, opening), beside the same bytes written in
  the clear as the baseline.

Every figure is the median of ``--handshakes`` handshakes or ``--repeats`` runs. The machine
is shared, so the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus.securechannel import Handshake, RecordOpener, RecordSealer  # noqa: E402
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite  # noqa: E402
from ledger.linkcrypto import link_suite  # noqa: E402
from shell.securelink import secure_handshake  # noqa: E402

CHAIN = "bench-chain"
MIB = 1 << 20


def handshake_cpu_ms(suite: Suite, count: int) -> float:
    a, b = suite.generate_secret(), suite.generate_secret()
    n = link_suite(suite).ephemeral_seed_len
    times = []
    for _ in range(count):
        start = time.perf_counter()
        ha = Handshake(suite, CHAIN, a, 0, os.urandom(n))
        hb = Handshake(suite, CHAIN, b, 1, os.urandom(n))
        auth_a, auth_b = ha.on_hello(hb.hello), hb.on_hello(ha.hello)
        ha.on_auth(auth_b[:4], auth_b[4:])
        hb.on_auth(auth_a[:4], auth_a[4:])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def seal_open_mb_s(suite: Suite, frame_bytes: int, total_bytes: int, repeats: int) -> float:
    link = link_suite(suite)
    key = os.urandom(link.aead_key_len)
    frame = os.urandom(frame_bytes)
    count = max(1, total_bytes // frame_bytes)
    rates = []
    for _ in range(repeats):
        sealer, opener = RecordSealer(link.aead(key)), RecordOpener(link.aead(key))
        start = time.perf_counter()
        for _ in range(count):
            record = sealer.seal(frame)
            opener.open(record[:4], record[4:])
        rates.append(count * frame_bytes / (time.perf_counter() - start) / 1e6)
    return statistics.median(rates)


async def _loopback(serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                    Awaitable[None]],
                    dial: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                   Awaitable[float]]) -> float:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await dial(reader, writer)
        finally:
            writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def handshake_tcp_ms(suite: Suite, count: int) -> float:
    a, b = suite.generate_secret(), suite.generate_secret()

    served = asyncio.Queue[None]()

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await secure_handshake(r, w, suite, CHAIN, b, 1, 10)
        w.close()
        served.put_nowait(None)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await secure_handshake(reader, writer, suite, CHAIN, a, 0, 10)
            times.append((time.perf_counter() - start) * 1000)
            await served.get()  # the server's side is done too before the next one
            writer.close()
    finally:
        server.close()
        await server.wait_closed()
    return statistics.median(times)


async def stream_mb_s(suite: Suite | None, frame_bytes: int, total_bytes: int) -> float:
    """MB/s from the first byte written to the last frame read; ``suite=None`` is plain TCP."""
    count = max(1, total_bytes // frame_bytes)
    frame = os.urandom(frame_bytes)
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    secrets = None if suite is None else (suite.generate_secret(), suite.generate_secret())

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if suite is None or secrets is None:
            for _ in range(count):
                await r.readexactly(frame_bytes)
        else:
            stream, _, _ = await secure_handshake(r, w, suite, CHAIN, secrets[1], 1, 10)
            for _ in range(count):
                await stream.read_frame(frame_bytes, 30)
        done.set_result(time.perf_counter())
        w.close()

    async def dial(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> float:
        if suite is None or secrets is None:
            start = time.perf_counter()
            for _ in range(count):
                w.write(frame)
                await w.drain()
        else:
            stream, _, _ = await secure_handshake(r, w, suite, CHAIN, secrets[0], 0, 10)
            start = time.perf_counter()
            for _ in range(count):
                stream.write_frame(frame)
                await stream.drain()
        return count * frame_bytes / (await done - start) / 1e6

    return await _loopback(serve, dial)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--handshakes", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mib", type=int, default=16, help="MiB per throughput run")
    args = parser.parse_args()
    load_before = os.getloadavg()
    total = args.mib * MIB
    rows: list[tuple[str, str, str]] = []
    for suite in (ED25519_SHA256, SM2_SM3):
        name = suite.name
        rows.append((name, "handshake, CPU only (both sides), ms",
                     f"{handshake_cpu_ms(suite, args.handshakes):.2f}"))
        rows.append((name, "handshake over loopback TCP, ms",
                     f"{asyncio.run(handshake_tcp_ms(suite, args.handshakes)):.2f}"))
        for size in (1024, 64 * 1024, MIB):
            mb_s = seal_open_mb_s(suite, size, min(total, 4 * MIB if size == 1024 else total),
                                  args.repeats)
            rows.append((name, f"seal + open, {size // 1024} KiB frames, MB/s", f"{mb_s:.0f}"))
        for size in (64 * 1024, MIB):
            runs = [asyncio.run(stream_mb_s(suite, size, total)) for _ in range(args.repeats)]
            rows.append((name, f"loopback TCP, {size // 1024} KiB frames, MB/s",
                         f"{statistics.median(runs):.0f}"))
    for size in (64 * 1024, MIB):
        runs = [asyncio.run(stream_mb_s(None, size, total)) for _ in range(args.repeats)]
        rows.append(("plain TCP (baseline)", f"loopback TCP, {size // 1024} KiB writes, MB/s",
                     f"{statistics.median(runs):.0f}"))
    load_after = os.getloadavg()
    print(f"# secure link benchmark: {args.handshakes} handshakes, {args.repeats} repeats, "
          f"{args.mib} MiB per throughput run; medians")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
          f"{os.cpu_count()} CPUs\n")
    print("| suite | measure | median |")
    print("|---|---|---:|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


if __name__ == "__main__":
    main()

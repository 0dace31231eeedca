"""A node's configuration: one TOML file, every setting with its default and its bounds.

``NodeConfig.load(path)`` reads the file (``configs/node.example.toml`` documents every
field); relative paths are relative to the file. Anything unknown, mistyped or out of bounds
is refused with one line naming the setting (``ConfigError``), never a traceback. The
numeric sections are ``[limits]`` (the shell's own bounds: ``NodeLimits``), ``[pool]``
(``consensus.pool.PoolLimits``) and ``[replica]`` (``consensus.api.ReplicaConfig``); each
number's allowed range is in ``BOUNDS`` beside its dataclass field. ``[sync]``
(``SyncConfig``) says how an empty store starts and which history the node keeps serving;
``[events]`` (``StreamSettings``) bounds the event stream.

The key's passphrase is read in one place, ``read_passphrase``, for the node and the CLI:
from an environment variable or a file (a file readable by other users is refused).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from consensus.api import ReplicaConfig
from consensus.pool import PoolLimits
from contracts.periods import DAY_MS, HOUR_MS
from ledger.errors import InvalidInput
from ledger.keyfile import read_passphrase_file
from shell.eventkit import parse_reminders

MAX_CONFIG_BYTES = 1 << 20


class ConfigError(InvalidInput):
    """A setting that is missing, unknown, mistyped or out of bounds; ``str()`` names it."""


@dataclass(frozen=True, slots=True)
class PeerAddr:
    index: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NodeLimits:
    """The shell's bounds (the pool's and the replica's have their own dataclasses)."""

    tick_ms: int = 50
    max_frame_bytes: int = 32 * 1024 * 1024
    max_request_bytes: int = 8 * 1024 * 1024
    max_txs_per_request: int = 5_000
    requests_per_second: int = 2_000  # per client address, token bucket
    txs_per_second: int = 2_000  # transactions decoded and verified, per client address
    request_bytes_per_second: int = 8 * 1024 * 1024  # request body bytes per client address
    gossip_batch_max: int = 2_000
    gossip_batches_in_flight: int = 64  # received gossip batches being admitted at once
    regossip_ms: int = 2_000  # ready transactions waiting this long are offered to peers again
    regossip_max: int = 500  # ... at most this many each time
    verify_threads: int = 2
    event_queue_max: int = 10_000
    peer_queue_max: int = 10_000
    reconnect_min_ms: int = 100
    reconnect_max_ms: int = 5_000
    fetch_blocks_served_max: int = 64
    handshake_timeout_ms: int = 5_000
    link_ping_ms: int = 1_000  # an idle peer link sends a PING this often ...
    link_idle_timeout_ms: int = 10_000  # ... and one silent this long is closed
    http_header_timeout_ms: int = 10_000  # a request's headers must arrive within this
    http_body_timeout_ms: int = 30_000  # ... and its body within this
    http_idle_timeout_ms: int = 60_000  # an idle keep-alive connection is closed after this
    http_connections_max: int = 1_000
    http_connections_per_address_max: int = 256  # one client address can't take them all
    shutdown_grace_ms: int = 3_000  # a stopping node waits this long for its tasks
    health_stall_ms: int = 30_000  # no commit this long while work waits (or past the
    #                                heartbeat): /healthz says the chain is stalled


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """State sync and retained history (``shell.statesync``, ``shell.retention``)."""

    state_sync: bool = False  # an empty store starts from a peer's snapshot, not from genesis
    serve_snapshots: bool = True  # offer this node's certified state to joining nodes
    retain_heights: int = 0  # 0: archive, every height served; N: only the last N heights
    discovery_ms: int = 5_000  # a joining node waits this long for snapshot offers
    request_timeout_ms: int = 10_000  # a peer that answers no request within this is dropped
    pieces_per_request: int = 256  # state pieces asked of one peer at a time
    peers_max: int = 8  # peers a joining node fetches from at once


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """``[events]``: the event stream's bounds (``shell.events``, ``shell.api_events``).
    ``default_offsets_ms`` is written ``reminders = "3d,1h"`` in the file."""

    subscribers_max: int = 2_000
    subscribers_per_caller_max: int = 16
    heartbeat_ms: int = 15_000  # default; a reader may ask for 1-60 s
    write_stall_ms: int = 30_000  # a socket that accepts nothing this long is cut off
    send_buffer_bytes: int = 32 * 1024  # per subscriber: the socket's write high-water
    flush_bytes: int = 16 * 1024  # frames gathered before one write
    cache_blocks: int = 256  # prepared blocks kept for every reader
    cache_items_max: int = 20_000  # ... and items in them
    backfill_slice_blocks: int = 64  # blocks walked before yielding the event loop
    cursor_ahead_max_blocks: int = 100_000  # a cursor further ahead of our head is refused
    schedule_versions_max: int = 200_000  # deadlines remembered (shell.notices)
    subject_cache_max: int = 4_096  # tenders whose region, kind and parties are cached
    offsets_max: int = 4  # reminders per reader
    offset_max_ms: int = 60 * DAY_MS
    default_offsets_ms: tuple[int, ...] = (3 * DAY_MS, HOUR_MS)
    page_items_max: int = 1_000
    page_blocks_max: int = 2_000
    reads_per_s_per_caller: int = 20_000  # blocks + events a caller's walks read from the
    # store per second (prepared blocks in the cache cost nothing): backfill is work


# (min, max) of every integer setting, by section; a value outside is refused.
BOUNDS: dict[str, dict[str, tuple[int, int]]] = {
    "limits": {
        "tick_ms": (5, 10_000),
        "max_frame_bytes": (64 * 1024, 256 * 1024 * 1024),
        "max_request_bytes": (1024, 256 * 1024 * 1024),
        "max_txs_per_request": (1, 100_000),
        "requests_per_second": (1, 1_000_000),
        "txs_per_second": (1, 10_000_000),
        "request_bytes_per_second": (1024, 1 << 40),
        "gossip_batch_max": (1, 100_000),
        "gossip_batches_in_flight": (1, 10_000),
        "regossip_ms": (100, 600_000),
        "regossip_max": (1, 100_000),
        "verify_threads": (1, 64),
        "event_queue_max": (16, 10_000_000),
        "peer_queue_max": (16, 10_000_000),
        "reconnect_min_ms": (10, 60_000),
        "reconnect_max_ms": (10, 600_000),
        "fetch_blocks_served_max": (1, 256),
        "handshake_timeout_ms": (100, 60_000),
        "link_ping_ms": (50, 60_000),
        "link_idle_timeout_ms": (200, 600_000),
        "http_header_timeout_ms": (100, 600_000),
        "http_body_timeout_ms": (100, 3_600_000),
        "http_idle_timeout_ms": (100, 3_600_000),
        "http_connections_max": (1, 1_000_000),
        "http_connections_per_address_max": (1, 1_000_000),
        "shutdown_grace_ms": (100, 60_000),
        "health_stall_ms": (1_000, 86_400_000),
    },
    "pool": {
        "max_txs": (1, 10_000_000),
        "max_bytes": (1024, 64 * 1024 * 1024 * 1024),
        "max_per_sender": (1, 1_000_000),
        "max_nonce_gap": (0, 1_000_000),
        "max_tx_bytes": (128, 64 * 1024),
        "backlog_txs": (1, 10_000_000),
        "sender_share_min": (1, 1_000_000),
        "max_future_per_sender": (1, 10_000),
        "max_future_txs": (1, 10_000_000),
        "future_ttl_ms": (1_000, 86_400_000),
    },
    "replica": {
        "batch_tx_max": (1, 10_000),
        "batch_bytes_max": (1024, 64 * 1024 * 1024),
        "batch_wait_ticks": (0, 10_000),
        "empty_block_ticks": (1, 1_000_000),
        "view_timeout_ticks": (3, 1_000_000),
        "view_timeout_max_ticks": (3, 10_000_000),
        "view_change_resend_ticks": (1, 1_000_000),
        "max_clock_skew_ms": (10, 3_600_000),
        "height_window": (1, 1_000),
        "view_window": (1, 10_000),
        "future_buffer_max": (1, 100_000),
        "fetch_timeout_ticks": (1, 1_000_000),
        "fetch_blocks_max": (1, 256),
        "evidence_max": (1, 100_000),
    },
    "events": {
        "subscribers_max": (1, 1_000_000),
        "subscribers_per_caller_max": (1, 100_000),
        "heartbeat_ms": (1_000, 60_000),
        "write_stall_ms": (100, 3_600_000),
        "send_buffer_bytes": (1024, 64 * 1024 * 1024),
        "flush_bytes": (256, 64 * 1024 * 1024),
        "cache_blocks": (1, 1_000_000),
        "cache_items_max": (1, 100_000_000),
        "backfill_slice_blocks": (1, 100_000),
        "cursor_ahead_max_blocks": (1, 1 << 40),
        "schedule_versions_max": (1, 100_000_000),
        "subject_cache_max": (1, 10_000_000),
        "offsets_max": (1, 64),
        "offset_max_ms": (1_000, 3_650 * DAY_MS),
        "page_items_max": (1, 100_000),
        "page_blocks_max": (1, 1_000_000),
        "reads_per_s_per_caller": (1, 100_000_000),
    },
    "sync": {
        "retain_heights": (0, 1 << 40),
        "discovery_ms": (100, 600_000),
        "request_timeout_ms": (100, 600_000),
        "pieces_per_request": (1, 1024),
        "peers_max": (1, 64),
    },
}
# Settings that moved out of the node config, with where they went.
MOVED: dict[str, dict[str, str]] = {
    "replica": {
        "leader_memory_heights": (
            "it picks leaders, so it is the chain parameter leader_memory_heights, the same "
            "for every validator (genesis params, or `credchain gov propose set-param --name "
            "leader_memory_heights --value N`); remove it from [replica]"),
    },
}
_TOP_LEVEL = {"index", "name", "key_file", "passphrase_env", "passphrase_file", "host",
              "peer_host", "http_host", "peer_port", "http_port", "data_dir", "genesis_file",
              "peers", "peers_file", "limits", "pool", "replica", "tls", "log", "sync",
              "events"}
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """HTTPS for the API: the server's certificate chain and its private key (PEM)."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "text"  # "json": one JSON object per line, for log collectors


@dataclass(frozen=True, slots=True)
class NodeConfig:
    index: int | None  # its place in the validator set, a cross-check; None: learned from the chain
    name: str
    key_file: Path
    passphrase_env: str | None
    passphrase_file: Path | None
    host: str
    peer_host: str  # where peer links listen (default: host)
    http_host: str  # where the HTTP API listens (default: host)
    peer_port: int
    http_port: int
    peers: tuple[PeerAddr, ...]
    data_dir: Path
    genesis_file: Path
    limits: NodeLimits = NodeLimits()
    pool: PoolLimits = PoolLimits()
    replica: ReplicaConfig = field(default_factory=ReplicaConfig)
    tls: TlsConfig | None = None
    log: LogConfig = LogConfig()
    sync: SyncConfig = SyncConfig()
    events: StreamSettings = StreamSettings()
    source: Path | None = None  # the file this config was read from
    peers_file: Path | None = None  # more peers, re-read while the node runs

    @classmethod
    def load(cls, path: str | Path) -> NodeConfig:
        """Read a node config (``.toml``, or ``.json`` with the same fields)."""
        p = Path(path)
        try:
            if p.stat().st_size > MAX_CONFIG_BYTES:
                raise ConfigError(f"node config {p} is over {MAX_CONFIG_BYTES} bytes")
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read node config {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # (operator walk: it stopped the node as an error)
            raise ConfigError(f"node config {p} is not UTF-8 text (byte {exc.start})") from None
        try:
            raw = tomllib.loads(text) if p.suffix != ".json" else json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"node config {p} is not valid TOML: {exc}") from None
        return replace(cls.from_obj(raw, p.parent), source=p.resolve())

    @classmethod
    def from_obj(cls, raw: Any, base: Path) -> NodeConfig:
        if not isinstance(raw, dict):
            raise ConfigError("node config must be a table")
        unknown = sorted(set(raw) - _TOP_LEVEL)
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown} in the node config")

        def rel(name: str) -> Path:
            return (base / _text(raw, name)).resolve()

        pf = raw.get("passphrase_file")
        pe = raw.get("passphrase_env")
        if pe is not None and not isinstance(pe, str):
            raise ConfigError("passphrase_env must be text")
        if pe is not None and pf is not None:
            raise ConfigError("set passphrase_file or passphrase_env, not both")
        limits = _section(NodeLimits, "limits", raw.get("limits", {}))
        if limits.reconnect_max_ms < limits.reconnect_min_ms:
            raise ConfigError("limits.reconnect_max_ms must be ≥ limits.reconnect_min_ms")
        replica = _section(ReplicaConfig, "replica", raw.get("replica", {}))
        try:
            replica.check()
        except ValueError as exc:
            raise ConfigError(f"replica: {exc}") from None
        host = _text(raw, "host", "127.0.0.1")
        config = cls(
            index=_int(raw, "index", 0, 255) if "index" in raw else None,
            name=_text(raw, "name"),
            key_file=rel("key_file"),
            passphrase_env=pe,
            passphrase_file=rel("passphrase_file") if pf is not None else None,
            host=host,
            peer_host=_text(raw, "peer_host", host),
            http_host=_text(raw, "http_host", host),
            peer_port=_int(raw, "peer_port", 0, 65535),
            http_port=_int(raw, "http_port", 0, 65535),
            peers=_peers(raw.get("peers", [])),
            peers_file=rel("peers_file") if raw.get("peers_file") is not None else None,
            data_dir=rel("data_dir"),
            genesis_file=rel("genesis_file"),
            limits=limits,
            pool=_section(PoolLimits, "pool", raw.get("pool", {})),
            replica=replica,
            tls=_tls(raw.get("tls"), base),
            log=_log(raw.get("log", {})),
            sync=_sync(raw.get("sync", {})),
            events=_events(raw.get("events", {})),
        )
        if config.peer_port == config.http_port != 0 and config.peer_host == config.http_host:
            raise ConfigError(f"peer_port and http_port are both {config.http_port}: peers "
                              "and the HTTP API each need a port of their own")
        return config

    def passphrase(self) -> bytes:
        return read_passphrase(self.passphrase_env,
                               None if self.passphrase_file is None else str(self.passphrase_file))


def read_passphrase(env: str | None, file: str | None) -> bytes:
    """The key passphrase from environment variable ``env`` or from ``file`` (first line).
    A passphrase file that other users can read is refused: it guards the node's key."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"environment variable {env} is not set")
        return value.encode()
    if file:
        try:
            return read_passphrase_file(file)
        except InvalidInput as exc:
            raise ConfigError(str(exc)) from None
    raise ConfigError("neither a passphrase environment variable nor a passphrase file is set")


def _text(raw: dict[str, Any], name: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if value is None:
        raise ConfigError(f"setting {name!r} is missing")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"setting {name!r} must be non-empty text")
    return value


def _int(raw: dict[str, Any], name: str, lo: int, hi: int) -> int:
    if name not in raw:
        raise ConfigError(f"setting {name!r} is missing")
    value = raw[name]
    if type(value) is not int or not lo <= value <= hi:
        raise ConfigError(f"setting {name!r} must be an integer in [{lo}, {hi}], not {value!r}")
    return value


def read_peers_file(path: Path) -> list[tuple[bytes, str, int]]:
    """``(pubkey, host, port)`` of each ``[[peers]]`` entry of a peers file (TOML: ``pubkey``
    hex, ``host``, ``port``), re-read by a running node when the file changes."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read peers file {path}: {exc}") from None
    out = []
    items = raw.get("peers", [])
    if not isinstance(items, list) or set(raw) - {"peers"}:
        raise ConfigError(f"peers file {path} holds only [[peers]] tables")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"pubkey", "host", "port"}:
            raise ConfigError(f"peers file {path}: peers[{i}] needs pubkey, host and port")
        try:
            key = bytes.fromhex(_text(item, "pubkey"))
        except ValueError:
            raise ConfigError(f"peers file {path}: peers[{i}].pubkey is not hex") from None
        out.append((key, _text(item, "host"), _int(item, "port", 1, 65535)))
    return out


def _peers(raw: Any) -> tuple[PeerAddr, ...]:
    if not isinstance(raw, list):
        raise ConfigError("peers must be an array of tables")
    out: list[PeerAddr] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"peers[{i}] must be a table of index, host and port")
        unknown = sorted(set(item) - {"index", "host", "port"})
        if unknown:  # (operator walk: the stray key was not named)
            raise ConfigError(f"peers[{i}]: unknown setting {', '.join(map(repr, unknown))} "
                              "(a peer is index, host and port)")
        try:
            peer = PeerAddr(_int(item, "index", 0, 255), _text(item, "host"),
                            _int(item, "port", 1, 65535))
        except ConfigError as exc:
            raise ConfigError(f"peers[{i}]: {exc}") from None
        for j, other in enumerate(out):
            if (other.host, other.port) == (peer.host, peer.port):
                raise ConfigError(f"peers[{j}] and peers[{i}] both name {peer.host}:{peer.port}")
            if other.index == peer.index:
                raise ConfigError(f"peers[{j}] and peers[{i}] both name validator {peer.index}")
        out.append(peer)
    return tuple(out)


def _tls(raw: Any, base: Path) -> TlsConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"cert_file", "key_file"}:
        raise ConfigError("[tls] must name exactly cert_file and key_file (PEM files)")
    cert = (base / _text(raw, "cert_file")).resolve()
    key = (base / _text(raw, "key_file")).resolve()
    for what, path in (("tls.cert_file", cert), ("tls.key_file", key)):
        if not path.is_file():
            raise ConfigError(f"{what} {path} is not a readable file")
    return TlsConfig(cert, key)


def _log(raw: Any) -> LogConfig:
    if not isinstance(raw, dict) or set(raw) - {"level", "format"}:
        raise ConfigError("[log] takes level and format only")
    level = raw.get("level", "info")
    fmt = raw.get("format", "text")
    if level not in LOG_LEVELS:
        raise ConfigError(f"log.level must be one of {list(LOG_LEVELS)}, not {level!r}")
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"log.format must be one of {list(LOG_FORMATS)}, not {fmt!r}")
    return LogConfig(level, fmt)


def _sync(raw: Any) -> SyncConfig:
    """``[sync]``: two switches (true/false), the rest integers within ``BOUNDS``."""
    if not isinstance(raw, dict):
        raise ConfigError("[sync] must be a table")
    switches = {"state_sync", "serve_snapshots"}
    for name in switches & set(raw):
        if type(raw[name]) is not bool:
            raise ConfigError(f"sync.{name} must be true or false, not {raw[name]!r}")
    numbers: SyncConfig = _section(SyncConfig, "sync",
                                   {k: v for k, v in raw.items() if k not in switches})
    return replace(numbers, **{k: raw[k] for k in switches & set(raw)})


def _events(raw: Any) -> StreamSettings:
    """``[events]``: integers within ``BOUNDS``, and ``reminders`` ("3d,1h", "none")."""
    if not isinstance(raw, dict):
        raise ConfigError("[events] must be a table")
    numbers: StreamSettings = _section(StreamSettings, "events",
                                       {k: v for k, v in raw.items() if k != "reminders"})
    if "reminders" not in raw:
        return numbers
    text = raw["reminders"]
    if not isinstance(text, str):
        raise ConfigError("events.reminders must be text such as \"3d,1h\" or \"none\"")
    try:
        offsets = tuple(reversed(parse_reminders(text, numbers.offsets_max,
                                                 numbers.offset_max_ms)))
    except InvalidInput as exc:
        raise ConfigError(f"events.reminders: {exc}") from None
    return replace(numbers, default_offsets_ms=offsets)


def _section(kind: Any, name: str, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name for f in fields(kind)}
    moved = sorted(set(raw) & set(MOVED.get(name, {})))
    if moved:
        raise ConfigError(f"{name}.{moved[0]} is no longer a node setting: "
                          f"{MOVED[name][moved[0]]}")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown} in [{name}]")
    for key, value in raw.items():
        lo, hi = BOUNDS[name][key]
        if type(value) is not int or not lo <= value <= hi:
            raise ConfigError(f"{name}.{key} must be an integer in [{lo}, {hi}], not {value!r}")
    return kind(**raw)

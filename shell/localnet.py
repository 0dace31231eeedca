"""Local networks: the files ``network init`` writes, and the ``network up`` process supervisor.

``init_network(out, n, suite, ...)`` writes everything an ``n``-validator network on loopback
needs: validator and sample client keys (encrypted, 0600) with their passphrase file, the
genesis document, one ``nodeI.toml`` per validator on free ports, the verifier's anchor file
and a ``network.json`` manifest. ``LocalNet(directory)`` starts, kills and stops the
validator processes of such a directory (``network up``, the demo, the multi-process tests and
the cluster benchmark).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInput
from shell.client import NodeClient, NodeError

if TYPE_CHECKING:
    from ledger.crypto import Suite

NETWORK_PASSPHRASE_FILE = "passphrase"
TICK_MS = 50  # the node's default tick (shell.config.NodeLimits.tick_ms)
DEFAULT_HEARTBEAT_MS = 300_000  # the chain parameter heartbeat_ms a new network gets
# A demo chain's: its "day" is seconds long, and the story waits for block time to pass
# (user walks: `demo --url` on a `network init --demo` chain stalled five minutes a wait).
DEMO_HEARTBEAT_MS = 1_000
DEFAULT_PEER_PORT = 26650  # with --hosts: peers on this port, HTTP on the next
PROJECT_DIR = Path(__file__).resolve().parent.parent


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_PORT_TRIES = 2_000


def _ephemeral_start() -> int | None:
    """The first port the kernel hands to outgoing connections (Linux), or None."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1, each checked by binding it.

    They are drawn below the kernel's ephemeral range: nodes start one after another and
    dial their peers at once, and each outgoing connection takes an ephemeral port, which
    could be one a later node was about to listen on ("address already in use"; a fault
    proxy test failed so once). Where the range cannot be read, or no free port turns up
    below it, the OS picks them (ephemeral ports, as before)."""
    start = _ephemeral_start()
    ports: list[int] = []
    if start is not None and start > 2_048:
        low = max(1_024, start - 12_000)
        draw = secrets.SystemRandom()
        for _ in range(_PORT_TRIES):
            if len(ports) == count:
                break
            port = draw.randrange(low, start)
            if port not in ports and _bindable(port):
                ports.append(port)
    socks = []  # whatever is still missing: the OS picks (ephemeral ports)
    for _ in range(count - len(ports)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def init_network(out: Path, n_nodes: int, suite_name: str, chain_id: str, clients: int,
                 base_port: int = 0, demo: bool = False,
                 extra_roles: Mapping[str, Sequence[bytes]] | None = None,
                 heartbeat_ms: int | None = None,
                 hosts: Sequence[str] = ()) -> dict[str, Any]:
    """Write a whole local network into the empty (or new) directory ``out``.
    ``extra_roles`` grants further keys roles in genesis (load generators in tests and
    benchmarks: the chain admits only senders it knows). ``heartbeat_ms``: how often an
    idle chain writes an empty block, the chain parameter ``heartbeat_ms`` in genesis, the
    same for every validator and any that joins later (default 5 minutes; the demo and
    tests wait for block time to pass, so they ask for about a second). ``hosts``: one address per
    node, for validators on separate machines (each listens on all its interfaces, on
    ``base_port`` and the next port, default 26650/26651); none: all on loopback."""
    if hosts and len(hosts) != n_nodes:
        raise InvalidInput(f"--hosts names {len(hosts)} hosts for {n_nodes} nodes")
    from contracts.params import HEARTBEAT
    from ledger import keyfile
    from ledger.crypto import get_suite
    from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block

    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out} is not empty; refusing to overwrite a network")
    out.mkdir(parents=True, exist_ok=True)
    suite = get_suite(suite_name)
    phrase = secrets.token_hex(16).encode()
    fd = os.open(out / NETWORK_PASSPHRASE_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(phrase + b"\n")

    def new_key(name: str) -> bytes:
        secret = suite.generate_secret()
        keyfile.save_key(out / name, suite, secret, phrase)
        return suite.public_key(secret)

    validators = [{"name": f"node{i}", "pubkey": new_key(f"node{i}.key").hex()}
                  for i in range(n_nodes)]
    client_keys = [new_key(f"client{k}.key").hex() for k in range(clients)]
    committee = client_keys[: max(1, min(3, clients))] if clients else [validators[0]["pubkey"]]
    roles: dict[str, list[str]] = {}
    params: dict[str, Any] = {}
    role_keys: list[dict[str, str]] = []
    if demo:
        from contracts.scenario import SCENARIO_PARAMS, scenario_roles

        roles = {r: [k.hex() for k in keys] for r, keys in scenario_roles(suite).items()}
        params = dict(SCENARIO_PARAMS)
        role_keys = _save_role_keys(out, suite, phrase)
    for role, members in (extra_roles or {}).items():
        roles.setdefault(role, []).extend(k.hex() for k in members)
    if heartbeat_ms is None:
        heartbeat_ms = DEMO_HEARTBEAT_MS if demo else DEFAULT_HEARTBEAT_MS
    params[HEARTBEAT] = heartbeat_ms
    doc = GenesisDoc.from_json({
        "chain_id": chain_id, "suite": suite_name, "time_ms": time.time_ns() // 1_000_000,
        "validators": validators, "committee": committee, "roles": roles, "params": params,
        **({"demo": True} if demo else {})})
    doc.save(out / "genesis.json")
    block = genesis_block(doc, default_state(doc))
    Anchor.of(suite, block.header, doc.validators).save(out / "anchor.json")
    if hosts:  # one node per machine: the same two ports everywhere
        port = base_port or DEFAULT_PEER_PORT
        ports = [port, port + 1] * n_nodes
        addresses = list(hosts)
    else:
        ports = free_ports(2 * n_nodes) if base_port == 0 else list(
            range(base_port, base_port + 2 * n_nodes))
        addresses = ["127.0.0.1"] * n_nodes
    for i in range(n_nodes):
        (out / f"node{i}.toml").write_text(
            _node_toml(i, addresses, ports, listen_all=bool(hosts)))
    manifest = {
        "chain_id": chain_id,
        "suite": suite_name,
        "nodes": [{"config": f"node{i}.toml",
                   "http": f"http://{addresses[i]}:{ports[2 * i + 1]}"}
                  for i in range(n_nodes)],
        "clients": [{"key_file": f"client{k}.key", "pubkey": client_keys[k],
                     "committee": client_keys[k] in committee}  # proposes and votes
                    for k in range(clients)],
        "passphrase_file": NETWORK_PASSPHRASE_FILE,
        **({"role_keys": role_keys} if role_keys else {}),
    }
    (out / "network.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


ROLE_KEYS_DIR = "roles"


def _save_role_keys(out: Path, suite: Suite, phrase: bytes) -> list[dict[str, str]]:
    """The trading story's role keys a demo genesis grants (platform, attestor, bank,
    supervisor, bureau, expert pool, supermarket administrator), saved under ``roles/`` with
    the network's passphrase, so that a person can act in those roles by hand (user walk of
    2026-12-03: ``--demo`` granted roles to keys nobody was given). They are derived from
    public names (``contracts.scenario_kit.actor_secret``): demo keys, never for real use."""
    from contracts.scenario_kit import ROLE_ACTORS, actor_secret
    from ledger import keyfile

    (out / ROLE_KEYS_DIR).mkdir(mode=0o700)
    saved = []
    for role, names in ROLE_ACTORS.items():
        for name in names:
            path = f"{ROLE_KEYS_DIR}/{name}.key"
            keyfile.save_key(out / path, suite, actor_secret(suite, name), phrase)
            saved.append({"role": role, "actor": name, "key_file": path})
    return saved


def _node_toml(i: int, addresses: list[str], ports: list[int], listen_all: bool) -> str:
    peers = "\n".join(
        f'[[peers]]\nindex = {j}\nhost = "{addresses[j]}"\nport = {ports[2 * j]}\n'
        for j in range(len(addresses)) if j != i)
    host = "0.0.0.0" if listen_all else "127.0.0.1"
    return (f'index = {i}\nname = "node{i}"\nkey_file = "node{i}.key"\n'
            f'passphrase_file = "{NETWORK_PASSPHRASE_FILE}"\nhost = "{host}"\n'
            f"peer_port = {ports[2 * i]}\nhttp_port = {ports[2 * i + 1]}\n"
            f'data_dir = "data/node{i}"\ngenesis_file = "genesis.json"\n\n{peers}')


def route_peer(config: Path, peer_index: int, host: str, port: int) -> None:
    """Make the node of ``config`` dial peer ``peer_index`` at ``host:port`` instead (a test's
    fault-injecting proxy between the two); the file must be one ``init_network`` wrote."""
    text = config.read_text()
    entry = re.compile(rf'(\[\[peers\]\]\nindex = {peer_index}\nhost = )"[^"\n]*"\nport = \d+\n')
    new, count = entry.subn(lambda m: f'{m.group(1)}"{host}"\nport = {port}\n', text)
    if count != 1:
        raise InvalidInput(f"{config} has no single [[peers]] entry for index {peer_index}")
    config.write_text(new)


def _node_command() -> list[str]:
    """How a node is started: through the installed ``credchain`` script when this Python
    has one, so that ``ps`` and ``pgrep -f credchain`` show the nodes as what they are
    (user walk: ``python3 -m cli node start`` was found by neither); else ``-m cli``."""
    script = Path(sys.executable).parent / "credchain"
    return [sys.executable, str(script)] if script.is_file() else [sys.executable, "-m", "cli"]


def load_manifest(directory: Path) -> Any:
    try:
        return json.loads((directory / "network.json").read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{directory} is not a `network init` directory: {exc}") from None


def wait_ready(urls: list[str], timeout_s: float) -> None:
    """Wait until every node answers ``/status``; raises ``InvalidInput`` on timeout."""
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        try:
            NodeClient(pending[0], timeout_s=2.0).status()
            pending.pop(0)
            continue
        except NodeError:
            pass
        time.sleep(0.2)
    if pending:
        raise InvalidInput(f"nodes not ready within {timeout_s:.0f} s: {pending}")


def _term_with_parent() -> None:
    """In the child before it runs the node: SIGTERM it when its parent dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class LocalNet:
    """The validator processes of a ``network init`` directory, each started, killed and
    restarted on its own. ``command_prefix[i]``, if given, goes before node ``i``'s command
    (a test runs it in a network namespace with ``ip netns exec NAME``)."""

    def __init__(self, directory: Path, command_prefix: Sequence[Sequence[str]] = (),
                 die_with_parent: bool = False) -> None:
        """``die_with_parent``: each node gets SIGTERM (a clean stop) when the process that
        started it dies, even by ``kill -9`` (Linux; the commands ``network up`` and ``demo``
        ask for it, so no node is left running orphaned with its ports held)."""
        self.directory = directory.resolve()  # the nodes run in the project directory
        self.command_prefix = [list(p) for p in command_prefix]
        self.die_with_parent = die_with_parent
        self.manifest = load_manifest(directory)
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.manifest["nodes"])
        self.urls: list[str] = [n["http"] for n in self.manifest["nodes"]]

    def config_path(self, i: int) -> Path:
        return self.directory / str(self.manifest["nodes"][i]["config"])

    def start(self, i: int) -> None:
        self.log_path(i).parent.mkdir(exist_ok=True)
        with open(self.log_path(i), "ab") as log:
            prefix = self.command_prefix[i] if i < len(self.command_prefix) else []
            self.procs[i] = subprocess.Popen(
                [*prefix, *_node_command(), "node", "start", "--config",
                 str(self.config_path(i))],
                stdout=log, stderr=subprocess.STDOUT, cwd=str(PROJECT_DIR),
                preexec_fn=_term_with_parent if self.die_with_parent else None)

    def log_path(self, i: int) -> Path:
        return self.directory / "logs" / f"node{i}.log"

    def start_all(self) -> None:
        for i in range(len(self.procs)):
            self.start(i)

    def kill(self, i: int) -> None:
        """``kill -9``: no clean shutdown; whatever was not synced is lost."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        self.procs[i] = None

    def stop(self, i: int, timeout_s: float = 10.0) -> int | None:
        """SIGTERM node ``i`` and wait; its exit code (None if it had to be killed)."""
        p = self.procs[i]
        self.procs[i] = None
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None

    def exited(self) -> list[int]:
        return [i for i, _, _ in self.exits()]

    def exits(self) -> list[tuple[int, int | None, str]]:
        """``(index, exit code, config file)`` of each node that has exited."""
        return [(i, p.returncode, str(self.config_path(i)))
                for i, p in enumerate(self.procs) if p is not None and p.poll() is not None]

    def stop_all(self, timeout_s: float = 10.0) -> list[int]:
        """SIGTERM every running node and wait; returns their exit codes (0: clean)."""
        live = [p for p in self.procs if p is not None]
        for p in live:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in live:
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [None] * len(self.procs)
        return [p.returncode for p in live]

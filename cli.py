"""The ``credchain`` command line: keys, a local network, nodes, transactions and proofs.

Commands (``credchain --help`` for each one's options):

- ``keys new OUT --suite S`` — a new key pair in an encrypted key file (``ledger.keyfile``);
- ``network init --nodes N --suite S --out DIR`` — everything a local N-validator network
  needs, in one go: validator and sample client keys (with their passphrase files), the
  genesis document, one ``nodeI.toml`` per validator on loopback ports, and the verifier's
  anchor file;
- ``net up DIR`` — start every validator of a ``network init`` directory as a subprocess and
  stop them all on Ctrl-C / SIGTERM;
- ``node start --config FILE`` — run one node;
- ``status``, ``tx send``, ``proof`` — talk to a node's HTTP API;
- ``verify BUNDLE --anchor FILE`` — check a proof bundle offline; exit 0 only if it is valid.

Bad input gives a one-line message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

import click

from ledger.errors import InvalidInput

NETWORK_PASSPHRASE_FILE = "passphrase"


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _passphrase(env: str | None, file: str | None, confirm: bool = False) -> bytes:
    if env:
        value = os.environ.get(env)
        if value is None:
            fail(f"environment variable {env} is not set")
        return str(value).encode()
    if file:
        try:
            return Path(file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            fail(f"cannot read passphrase file: {exc}")
    text: str = click.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return text.encode()


def save_key(path: Path, suite_name: str, secret: bytes, passphrase: bytes) -> bytes:
    """Write ``secret`` to an encrypted key file; returns the public key."""
    from ledger import keyfile
    from ledger.crypto import get_suite

    suite = get_suite(suite_name)
    keyfile.save_key(path, suite, secret, passphrase)
    return suite.public_key(secret)


def load_key(path: Path, passphrase: bytes) -> tuple[Any, bytes]:
    """``(suite, secret)`` from an encrypted key file."""
    from ledger import keyfile

    key = keyfile.load_key(path, passphrase)
    return key.suite, key.secret


# ---- HTTP helpers ---------------------------------------------------------------------------


def http(url: str, method: str = "GET", body: Any = None, timeout_s: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read())
        except ValueError:
            payload = {"error": str(exc)}
        payload["_status"] = exc.code
        return payload
    except (urllib.error.URLError, OSError, ValueError) as exc:
        fail(f"cannot reach the node at {url}: {exc}")


# ---- the commands ---------------------------------------------------------------------------


class _Group(click.Group):
    """The root group: expected errors become one-line messages (exit 1), not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None
        except LookupError as exc:
            raise click.ClickException(f"not found: {exc}") from None


@click.group(cls=_Group)
def main() -> None:
    """credchain: a permissioned PBFT chain for public-resource-trading credentials."""


@main.group()
def keys() -> None:
    """Key files."""


@keys.command("new")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--suite", default="ed25519-sha256", show_default=True,
              type=click.Choice(["ed25519-sha256", "sm2-sm3"]))
@click.option("--passphrase-env", help="read the passphrase from this environment variable")
@click.option("--passphrase-file", type=click.Path(dir_okay=False),
              help="read the passphrase from this file")
def keys_new(out: str, suite: str, passphrase_env: str | None,
             passphrase_file: str | None) -> None:
    """Create a key pair in the encrypted key file OUT."""
    from ledger.crypto import get_suite

    if Path(out).exists():
        fail(f"{out} exists; refusing to overwrite a key file")
    phrase = _passphrase(passphrase_env, passphrase_file, confirm=True)
    pub = save_key(Path(out), suite, get_suite(suite).generate_secret(), phrase)
    click.echo(json.dumps({"file": out, "suite": suite, "pubkey": pub.hex()}))


@main.group()
def network() -> None:
    """Local networks."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (the OS picks them)."""
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@network.command("init")
@click.option("--nodes", "n_nodes", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--suite", default="ed25519-sha256", show_default=True,
              type=click.Choice(["ed25519-sha256", "sm2-sm3"]))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--chain-id", default="credchain-local", show_default=True)
@click.option("--clients", default=4, show_default=True, type=click.IntRange(0, 1000))
@click.option("--base-port", default=0, show_default=True, type=click.IntRange(0, 65000),
              help="peer port of node 0 (node i: base+2i peer, base+2i+1 HTTP); 0 = free ports")
@click.option("--demo", is_flag=True,
              help="grant the trading story's roles and SHORTENED demo periods in genesis "
                   "(contracts.scenario; for `credchain demo`)")
def network_init(n_nodes: int, suite: str, out: str, chain_id: str, clients: int,
                 base_port: int, demo: bool) -> None:
    """Keys, genesis, node configs and anchor for a local N-validator network in OUT."""
    init_network(Path(out), n_nodes, suite, chain_id, clients, base_port, demo)
    click.echo(f"network of {n_nodes} validators ({suite}) written to {out}")


def init_network(out: Path, n_nodes: int, suite_name: str, chain_id: str, clients: int,
                 base_port: int = 0, demo: bool = False) -> dict[str, Any]:
    from ledger.crypto import get_suite
    from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block

    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty; refusing to overwrite a network")
    out.mkdir(parents=True, exist_ok=True)
    suite = get_suite(suite_name)
    phrase = secrets.token_hex(16).encode()
    pf = out / NETWORK_PASSPHRASE_FILE
    fd = os.open(pf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(phrase + b"\n")
    validators, client_keys = [], []
    for i in range(n_nodes):
        pub = save_key(out / f"node{i}.key", suite_name, suite.generate_secret(), phrase)
        validators.append({"name": f"node{i}", "pubkey": pub.hex()})
    for k in range(clients):
        pub = save_key(out / f"client{k}.key", suite_name, suite.generate_secret(), phrase)
        client_keys.append(pub.hex())
    committee = client_keys[: max(1, min(3, clients))] if clients else [validators[0]["pubkey"]]
    roles: dict[str, list[str]] = {}
    params: dict[str, Any] = {}
    if demo:
        from contracts.scenario import SCENARIO_PARAMS, scenario_roles

        roles = {r: [k.hex() for k in keys] for r, keys in scenario_roles(suite).items()}
        params = dict(SCENARIO_PARAMS)
    genesis_json = {
        "chain_id": chain_id,
        "suite": suite_name,
        "time_ms": time.time_ns() // 1_000_000,
        "validators": validators,
        "committee": committee,
        "roles": roles,
        "params": params,
    }
    doc = GenesisDoc.from_json(genesis_json)
    doc.save(out / "genesis.json")
    block = genesis_block(doc, default_state(doc))
    Anchor.of(suite, block.header, doc.validators).save(out / "anchor.json")
    ports = free_ports(2 * n_nodes) if base_port == 0 else list(
        range(base_port, base_port + 2 * n_nodes))
    for i in range(n_nodes):
        peers = "\n".join(
            f'[[peers]]\nindex = {j}\nhost = "127.0.0.1"\nport = {ports[2 * j]}\n'
            for j in range(n_nodes) if j != i
        )
        (out / f"node{i}.toml").write_text(
            f'index = {i}\nname = "node{i}"\nkey_file = "node{i}.key"\n'
            f'passphrase_file = "{NETWORK_PASSPHRASE_FILE}"\nhost = "127.0.0.1"\n'
            f"peer_port = {ports[2 * i]}\nhttp_port = {ports[2 * i + 1]}\n"
            f'data_dir = "data/node{i}"\ngenesis_file = "genesis.json"\n\n{peers}'
        )
    manifest = {
        "chain_id": chain_id,
        "suite": suite_name,
        "nodes": [{"config": f"node{i}.toml", "http": f"http://127.0.0.1:{ports[2 * i + 1]}"}
                  for i in range(n_nodes)],
        "clients": [{"key_file": f"client{k}.key", "pubkey": client_keys[k]}
                    for k in range(clients)],
        "passphrase_file": NETWORK_PASSPHRASE_FILE,
    }
    (out / "network.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@main.group("node")
def node_group() -> None:
    """Run a node."""


@node_group.command("start")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
def node_start(config_path: str) -> None:
    """Run one node from its config file until SIGTERM / Ctrl-C."""
    import node

    node.main(config_path)


@main.group("net")
def net_group() -> None:
    """A whole local network."""


@net_group.command("up")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--seconds", default=0, type=click.IntRange(0),
              help="stop after this many seconds (0: run until Ctrl-C / SIGTERM)")
def net_up(directory: str, seconds: int) -> None:
    """Start every validator of a `network init` DIRECTORY as a subprocess."""
    net = LocalNet(Path(directory))
    net.start_all()
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for n in net.manifest["nodes"]:
        click.echo(f"{n['config']}: {n['http']}")
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while not stop["now"] and (deadline is None or time.monotonic() < deadline):
            if net.exited():
                click.echo(f"node(s) {net.exited()} exited; stopping the network", err=True)
                break
            time.sleep(0.2)
    finally:
        net.stop_all()


def _manifest(directory: Path) -> Any:
    try:
        return json.loads((directory / "network.json").read_text())
    except (OSError, ValueError) as exc:
        fail(f"{directory} is not a `network init` directory: {exc}")


class LocalNet:
    """The validator processes of a ``network init`` directory, each started, killed and
    restarted on its own (``net up``, the multi-process tests and the cluster benchmark)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.manifest = _manifest(directory)
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.manifest["nodes"])
        self.urls: list[str] = [n["http"] for n in self.manifest["nodes"]]

    def start(self, i: int) -> None:
        logs = self.directory / "logs"
        logs.mkdir(exist_ok=True)
        with open(logs / f"node{i}.log", "ab") as log:
            self.procs[i] = subprocess.Popen(
                [sys.executable, "-m", "cli", "node", "start", "--config",
                 str(self.directory / self.manifest["nodes"][i]["config"])],
                stdout=log, stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parent),
            )

    def start_all(self) -> None:
        for i in range(len(self.procs)):
            self.start(i)

    def kill(self, i: int) -> None:
        """``kill -9``: no clean shutdown, whatever was not synced is lost."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        self.procs[i] = None

    def exited(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p is not None and p.poll() is not None]

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


@main.command()
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
def status(url: str) -> None:
    """A node's height, view, leader, peers and pool size."""
    click.echo(json.dumps(http(f"{url}/status"), indent=2))


@main.group()
def tx() -> None:
    """Transactions."""


@tx.command("send")
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--passphrase-env")
@click.option("--passphrase-file", type=click.Path(dir_okay=False))
@click.option("--call", required=True, help="contract.method")
@click.option("--args", "args_json", default="{}", help="JSON map; bytes as {\"$bin\": hex}")
@click.option("--nonce", type=int, help="default: the sender's committed next nonce")
@click.option("--wait", is_flag=True, help="wait (≤ 30 s) until the transaction commits")
def tx_send(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
            call: str, args_json: str, nonce: int | None, wait: bool) -> None:
    """Sign a transaction and submit it to a node."""
    from ledger.jsonform import tagged_from_json

    suite, secret = load_key(Path(key_file), _passphrase(passphrase_env, passphrase_file))
    try:
        args = tagged_from_json(json.loads(args_json))
    except ValueError as exc:
        fail(f"--args is not valid: {exc}")
    if not isinstance(args, dict):
        fail("--args must be a JSON map")
    res, committed = send_tx(url, suite, secret, call, args, nonce, wait)
    click.echo(json.dumps(res, indent=2))
    if committed is not None:
        click.echo(json.dumps(committed, indent=2))


def send_tx(url: str, suite: Any, secret: bytes, call: str, args: dict[str, Any],
            nonce: int | None = None, wait: bool = True,
            timeout_s: float = 30.0) -> tuple[Any, Any]:
    """Sign and submit one transaction; with ``wait``, poll until it is committed. Returns
    the node's answer to the submission and, when waited for, the committed status."""
    from ledger.tx import TxBody, sign_tx

    status_ = http(f"{url}/status")
    sender = suite.public_key(secret)
    if nonce is None:
        got = http(f"{url}/state/nonce/{sender.hex()}")
        nonce = int(got["value"]) if got.get("value") is not None else 0
    body = TxBody(status_["chain_id"], sender, nonce, call, args)
    signed = sign_tx(suite, secret, body)
    res = http(f"{url}/txs", "POST", {"txs": [signed.encode().hex()]})
    if not res.get("accepted"):
        fail(f"the node refused {call}: {json.dumps(res)}")
    if not wait:
        return res, None
    tx_id = res["results"][0]["tx_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = http(f"{url}/txs/{tx_id}")
        if got.get("status") == "committed":
            return res, got
        time.sleep(0.1)
    fail(f"transaction {tx_id} not committed within {timeout_s:.0f} s")


class HttpScenarioClient:
    """``contracts.scenario.ScenarioClient`` over a node's HTTP API: ``submit`` waits until
    the transaction is committed; "now" is the head block's ``time_ms``."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        from ledger.crypto import get_suite

        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        status_ = http(f"{self.url}/status")
        self.chain_id: str = status_["chain_id"]
        self.suite = get_suite(status_["suite"])

    def submit(self, signed: Any) -> Any:
        from ledger import jsonform
        from ledger.tx import Receipt

        res = http(f"{self.url}/txs", "POST", {"txs": [signed.encode().hex()]})
        if not res.get("accepted"):
            fail(f"the node refused {signed.body.call}: {res}")
        tx_id = res["results"][0]["tx_id"]
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            got = http(f"{self.url}/txs/{tx_id}")
            if got.get("status") == "committed":
                return Receipt.from_obj(jsonform.from_json(got["receipt"], jsonform.RECEIPT))
            time.sleep(0.05)
        fail(f"{signed.body.call} ({tx_id}) not committed within {self.timeout_s:.0f} s")

    def now_ms(self) -> int:
        height = http(f"{self.url}/status")["height"]
        return int(http(f"{self.url}/headers/{height}")["header"]["time_ms"])

    def wait_until(self, t_ms: int) -> None:
        """Wait for a block at or after ``t_ms`` (leaders propose empty blocks when idle)."""
        while self.now_ms() < t_ms:
            time.sleep(0.2)

    def nonce_of(self, pubkey: bytes) -> int:
        got = http(f"{self.url}/state/nonce/{pubkey.hex()}")
        return int(got["value"]) if got.get("value") is not None else 0


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="network directory to create (default: a new temporary directory)")
@click.option("--suite", default="sm2-sm3", show_default=True,
              type=click.Choice(["ed25519-sha256", "sm2-sm3"]))
@click.option("--url", help="run against this node of a running `network init --demo` "
                            "network instead of starting one (needs --anchor)")
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
              help="the anchor file of the network given by --url")
def demo(directory: str | None, suite: str, url: str | None, anchor_path: str | None) -> None:
    """Start a local 4-validator network and run the whole trading story through it.

    The story (contracts.scenario) runs over the HTTP API of one node; at the end the
    winner's sealed-bid commitment is proved from ANOTHER node with a proof bundle, which is
    then verified offline against the genesis anchor alone.
    """
    if url is not None:
        if anchor_path is None:
            fail("--url needs --anchor (the network's anchor file)")
        _demo_story([url], Path(str(anchor_path)), Path.cwd())
        return
    import tempfile

    out = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="credchain-demo-"))
    manifest = init_network(out, 4, suite, "credchain-demo", 4, demo=True)
    click.echo(f"== a local network of 4 validators ({suite}) in {out} ==")
    net = LocalNet(out)
    net.start_all()
    try:
        urls = [n["http"] for n in manifest["nodes"]]
        _wait_ready(urls, timeout_s=60.0)
        click.echo("   all 4 validators are up: " + ", ".join(urls))
        _demo_story(urls, out / "anchor.json", out)
    finally:
        codes = net.stop_all()
        click.echo(f"== network stopped (exit codes {codes}); its data stays in {out} ==")


def _wait_ready(urls: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        try:
            if http(f"{pending[0]}/status", timeout_s=2.0).get("height", -1) >= 0:
                pending.pop(0)
                continue
        except click.ClickException:
            pass
        time.sleep(0.2)
    if pending:
        fail(f"nodes not ready within {timeout_s:.0f} s: {pending}")


def _demo_story(urls: list[str], anchor_path: Path, out: Path) -> None:
    from contracts.scenario import run_scenario

    summary = run_scenario(HttpScenarioClient(urls[0]), lambda line: click.echo(line))
    click.echo("-- the winner proves its sealed bid to anyone, from another node --")
    uscc = summary["winner"]
    prove_bid(urls[-1], anchor_path, summary["tender_id"], 1, uscc,
              summary["winner_commitment"], summary["winner_bid_tx"].hex(),
              out / "winner-bid.bundle.json")
    click.echo("== the trading story ran end to end on the network ==")


def prove_bid(url: str, anchor_path: Path, tender_id: str, lot: int, uscc: str,
              commitment: bytes, bid_tx_id: str, out: Path) -> None:
    """Prove, from any node and then offline, that a sealed bid's commitment was on chain
    before the tender's deadline: a bundle of the bid's state key at the height of the bid
    transaction, and a bundle of the tender record (its deadline) at the head. Both are
    verified against the genesis anchor alone; fails unless every check holds."""
    from contracts.scenario import bid_slot
    from contracts.tender import bid_key, tender_key
    from ledger import encoding
    from ledger.bundle import from_json, verify_bundle
    from ledger.crypto import get_suite
    from ledger.genesis import Anchor

    anchor = Anchor.load(anchor_path)
    where = http(f"{url}/txs/{bid_tx_id}")
    if where.get("status") != "committed":
        fail(f"the bid transaction {bid_tx_id} is not committed ({where.get('status')})")
    height = int(where["height"])
    suite = get_suite(anchor.suite.name)
    key = bid_key(tender_id, lot, bid_slot(suite, anchor.header.chain_id, tender_id, lot,
                                           uscc).hex())

    def fetch(state_key: str, at: int | None, path: Path) -> Any:
        q = urllib.parse.quote(state_key, safe="/") + (f"?height={at}" if at is not None else "")
        got = http(f"{url}/proof/{q}")
        if "_status" in got:
            fail(f"the node refused the proof of {state_key}: {got.get('error')}")
        path.write_text(json.dumps(got, indent=2) + "\n")
        # Offline from here on: only the bundle file and the anchor file.
        record = verify_bundle(from_json(json.loads(path.read_text())), anchor)
        if record.value is None:
            fail(f"the bundle proves {state_key} absent")
        return record

    bid_record = fetch(key, height, out)
    tender_path = out.with_name(out.stem + ".tender.json")
    tender_record = fetch(tender_key(tender_id), None, tender_path)
    bid = encoding.decode(bid_record.value)
    deadline_ms = int(encoding.decode(tender_record.value)["deadline_ms"])
    block_ms = bid_record.header.time_ms
    checks = {
        "both bundles verify against the genesis anchor (QC chain, state proofs)": True,
        "the proven commitment is the bidder's own": bid["commitment"] == commitment,
        "the block holding it is before the tender's deadline": block_ms < deadline_ms,
    }
    for text, ok in checks.items():
        click.echo(f"   [{'ok' if ok else 'FAILED'}] {text}")
    click.echo(f"   bid bundle: {out} (key {key}, height {height}, block time {block_ms}, "
               f"deadline {deadline_ms}); tender bundle: {tender_path}")
    click.echo(f"   check it yourself: credchain verify {out} --anchor {anchor_path}")
    if not all(checks.values()):
        fail("the commitment could not be proved")


@main.group()
def bid() -> None:
    """The bidder's side: seal and submit a bid, reveal its key at opening, prove it."""


@bid.command("seal")
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key bound to the bidder's attestation")
@click.option("--passphrase-env")
@click.option("--passphrase-file", type=click.Path(dir_okay=False))
@click.option("--tender", "tender_id", required=True)
@click.option("--lot", default=1, show_default=True, type=click.IntRange(1))
@click.option("--uscc", required=True, help="the bidder's unified social credit code")
@click.option("--file", "bid_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="the (encrypted) bid file as uploaded to the platform")
@click.option("--price-fen", required=True, type=click.IntRange(0))
@click.option("--guarantee", default="", help="the electronic guarantee's number")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="where to keep the sealed bid (holds the content key: mode 0600)")
def bid_seal(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
             tender_id: str, lot: int, uscc: str, bid_file: str, price_fen: int,
             guarantee: str, out: str) -> None:
    """Seal a bid (content key, encrypted summary, file hash, commitment) and submit it."""
    from contracts.bidder import seal_bid

    suite, secret = load_key(Path(key_file), _passphrase(passphrase_env, passphrase_file))
    chain_id = http(f"{url}/status")["chain_id"]
    sealed = seal_bid(suite, chain_id, tender_id, lot, uscc, Path(bid_file).read_bytes(),
                      price_fen)
    record = {"chain_id": chain_id, "tender_id": tender_id, "lot": lot, "uscc": uscc,
              "content_key": sealed.content_key.hex(), "file_hash": sealed.file_hash.hex(),
              "sealed_summary": sealed.sealed_summary.hex(),
              "commitment": sealed.commitment.hex(), "summary": sealed.summary.hex(),
              "guarantee": guarantee}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:  # before submitting: the key must never be lost
        json.dump(record, f, indent=2)
    _, got = send_tx(url, suite, secret, "bid.submit", sealed.submit_args(guarantee))
    code = got["receipt"]["code"]
    if code != "OK":
        fail(f"bid refused: {code} {got['receipt'].get('message', '')}")
    record["tx_id"], record["height"] = got["tx_id"], got["height"]
    Path(out).write_text(json.dumps(record, indent=2))
    click.echo(f"sealed bid committed at height {got['height']} (tx {got['tx_id']}); "
               f"commitment {sealed.commitment.hex()}; keep {out} until the opening")


def _load_sealed(path: str) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        fail(f"{path} is not a sealed bid written by `credchain bid seal`: {exc}")
    missing = [f for f in ("tender_id", "lot", "uscc", "content_key", "commitment")
               if f not in record]
    if missing:
        fail(f"{path} is not a sealed bid written by `credchain bid seal` (no {missing})")
    return record


@bid.command("reveal")
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--passphrase-env")
@click.option("--passphrase-file", type=click.Path(dir_okay=False))
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
def bid_reveal(url: str, key_file: str, passphrase_env: str | None,
               passphrase_file: str | None, sealed_path: str) -> None:
    """Reveal the content key in the decryption window; the contract decrypts on chain."""
    record = _load_sealed(sealed_path)
    suite, secret = load_key(Path(key_file), _passphrase(passphrase_env, passphrase_file))
    args = {"tender_id": record["tender_id"], "lot": int(record["lot"]),
            "content_key": bytes.fromhex(record["content_key"])}
    _, got = send_tx(url, suite, secret, "bid.reveal", args)
    receipt = got["receipt"]
    click.echo(json.dumps({"code": receipt["code"], "events": receipt.get("events", [])},
                          indent=2))
    if receipt["code"] != "OK":
        fail(f"reveal refused: {receipt['code']} {receipt.get('message', '')}")


@bid.command("prove")
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def bid_prove(url: str, sealed_path: str, anchor_path: str, out: str) -> None:
    """Prove the sealed bid's commitment was on chain before the deadline (after it)."""
    record = _load_sealed(sealed_path)
    if "tx_id" not in record:
        fail(f"{sealed_path} has no committed bid transaction")
    prove_bid(url, Path(anchor_path), record["tender_id"], int(record["lot"]), record["uscc"],
              bytes.fromhex(record["commitment"]), record["tx_id"], Path(out))


@main.group()
def audit() -> None:
    """Replay and check a chain's whole history."""


@audit.command("replay")
@click.option("--genesis", "genesis_path", required=True,
              type=click.Path(dir_okay=False, exists=True), help="the chain's genesis document")
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
              help="the consortium's anchor file: the genesis must hash to it")
@click.option("--url", help="fetch blocks and QCs from this node's HTTP API")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True),
              help="read blocks and QCs from a STOPPED node's data_dir instead")
@click.option("--to-height", type=int, help="stop after this height (default: the head)")
@click.option("--out", type=click.Path(dir_okay=False), help="write the report (JSON) here")
def audit_replay(genesis_path: str, anchor_path: str | None, url: str | None,
                 data_dir: str | None, to_height: int | None, out: str | None) -> None:
    """Re-execute every block from genesis, checking every signature, root and QC."""
    from contracts.audit import replay
    from ledger.genesis import Anchor, GenesisDoc

    if (url is None) == (data_dir is None):
        fail("give exactly one of --url and --data")
    doc = GenesisDoc.load(genesis_path)
    anchor = Anchor.load(anchor_path) if anchor_path else None
    source = _blocks_from_url(url, to_height) if url else _blocks_from_data(
        Path(str(data_dir)), doc, to_height)
    started = time.monotonic()
    report = replay(doc, source, anchor)
    summary = report.to_json()
    seconds = time.monotonic() - started
    click.echo(f"replayed heights 1..{summary['head_height']} of {summary['chain_id']} "
               f"({summary['suite']}) in {seconds:.1f} s: {summary['transactions']} transactions "
               f"({summary['failed_transactions']} failed receipts), "
               f"{summary['signatures_checked']} signatures checked, "
               f"validator changes at {summary['validator_changes'] or 'none'}")
    click.echo(f"head {summary['head_hash']}  state root {summary['state_root']}")
    if out:
        Path(out).write_text(json.dumps(summary, indent=2) + "\n")
        click.echo(f"report written to {out}")


def _blocks_from_url(url: str, to_height: int | None) -> Any:
    from ledger import jsonform
    from ledger.block import QC, Block

    base = url.rstrip("/")
    head = int(http(f"{base}/status")["height"])
    last = head if to_height is None else min(head, to_height)
    for h in range(1, last + 1):
        got = http(f"{base}/blocks/{h}")
        if "_status" in got:
            fail(f"the node would not give block {h}: {got.get('error')}")
        block = Block.from_obj(jsonform.from_json(got["block"], jsonform.BLOCK))
        qc = QC.from_obj(jsonform.from_json(got["qc"], jsonform.QC))
        yield block, qc


def _blocks_from_data(data_dir: Path, doc: Any, to_height: int | None) -> Any:
    from ledger.kv import LevelKV
    from ledger.store import BlockStore

    db_dir = data_dir / "db" if (data_dir / "db" / "CURRENT").exists() else data_dir
    if not (db_dir / "CURRENT").exists():
        fail(f"{data_dir} holds no node database (expected {data_dir}/db)")
    try:
        kv = LevelKV(str(db_dir), create=False)
    except Exception as exc:  # plyvel reports a held lock or a missing DB this way
        fail(f"cannot open {data_dir} (is its node still running?): {exc}")
    try:
        store = BlockStore(kv, doc.crypto)
        head = store.head()[0]
        last = head if to_height is None else min(head, to_height)
        for h in range(1, last + 1):
            block, qc = store.block(h), store.qc(h)
            if block is None or qc is None:
                fail(f"the data directory has no block or QC at height {h}")
            yield block, qc
    finally:
        kv.close()


@main.command()
@click.argument("key")
@click.option("--url", default="http://127.0.0.1:26651", show_default=True)
@click.option("--height", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def proof(key: str, url: str, height: int | None, out: str) -> None:
    """Fetch the proof bundle of state KEY (JSON form) into OUT."""
    q = f"?height={height}" if height is not None else ""
    res = http(f"{url}/proof/{urllib.parse.quote(key, safe='/')}{q}")
    if "_status" in res:
        fail(f"node refused: {res.get('error')}")
    Path(out).write_text(json.dumps(res, indent=2) + "\n")
    click.echo(f"bundle for {key!r} at height {res['header']['height']} written to {out}")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
def verify(bundle: str, anchor_path: str) -> None:
    """Check a proof BUNDLE offline against the genesis anchor; exit 0 only when valid."""
    from ledger.bundle import from_json, verify_bundle
    from ledger.genesis import Anchor

    anchor = Anchor.load(anchor_path)
    try:
        obj = json.loads(Path(bundle).read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read bundle: {exc}")
    record = verify_bundle(from_json(obj), anchor)
    value = None if record.value is None else record.value.hex()
    click.echo(json.dumps({"valid": True, "key": record.key, "height": record.height,
                           "value_ce": value}))


if __name__ == "__main__":
    main()

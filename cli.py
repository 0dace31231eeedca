"""The ``credchain`` command line: click commands only; the work is done in ``shell``.

- ``keys new`` — a key pair in an encrypted key file (``ledger.keyfile``);
- ``network init`` / ``net up`` — a local network's files, and its processes
  (``shell.localnet``);
- ``node start`` — run one node (``shell.server``);
- ``status``, ``tx send``, ``proof`` — talk to a node (``shell.client``);
- ``verify`` — check a proof bundle offline;
- ``demo`` — a local network with the trading story running through it (``shell.demo``);
- ``bid seal|reveal|prove`` — the bidder's side (``contracts.bidder``, ``shell.bidding``);
- ``audit replay`` — re-execute and check a chain's whole history (``contracts.audit``).

Bad input gives a one-line message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from ledger.errors import InvalidInput
from shell.client import NodeClient, NodeError

DEFAULT_URL = "http://127.0.0.1:26651"
SUITES = click.Choice(["ed25519-sha256", "sm2-sm3"])


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _passphrase(env: str | None, file: str | None, confirm: bool = False) -> bytes:
    from shell.config import read_passphrase

    if env or file:
        return read_passphrase(env, file)
    text: str = click.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return text.encode()


def _key(key_file: str, env: str | None, file: str | None) -> tuple[Any, bytes]:
    """``(suite, secret)`` from an encrypted key file."""
    from ledger.keyfile import load_key

    key = load_key(Path(key_file), _passphrase(env, file))
    return key.suite, key.secret


class _Group(click.Group):
    """The root group: expected errors become one-line messages (exit 1), not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None
        except NodeError as exc:
            raise click.ClickException(str(exc)) from None
        except LookupError as exc:
            raise click.ClickException(f"not found: {exc}") from None


@click.group(cls=_Group)
@click.version_option(package_name="credchain", prog_name="credchain")
def main() -> None:
    """credchain: a permissioned PBFT chain for public-resource-trading credentials."""


def _url_option(f: Any) -> Any:
    return click.option("--url", default=DEFAULT_URL, show_default=True,
                        help="a node's HTTP API")(f)


def _key_options(f: Any) -> Any:
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False),
                     help="read the key's passphrase from this file (mode 0600)")(f)
    f = click.option("--passphrase-env",
                     help="read the key's passphrase from this environment variable")(f)
    return f


# ---- keys, networks, nodes ------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Key files."""


@keys.command("new")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--suite", default="ed25519-sha256", show_default=True, type=SUITES)
@_key_options
def keys_new(out: str, suite: str, passphrase_env: str | None,
             passphrase_file: str | None) -> None:
    """Create a key pair in the encrypted key file OUT."""
    from ledger import keyfile
    from ledger.crypto import get_suite

    if Path(out).exists():
        fail(f"{out} exists; refusing to overwrite a key file")
    s = get_suite(suite)
    secret = s.generate_secret()
    keyfile.save_key(Path(out), s, secret, _passphrase(passphrase_env, passphrase_file, True))
    click.echo(json.dumps({"file": out, "suite": suite, "pubkey": s.public_key(secret).hex()}))


@main.group()
def network() -> None:
    """Local networks."""


@network.command("init")
@click.option("--nodes", "n_nodes", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--suite", default="ed25519-sha256", show_default=True, type=SUITES)
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
    from shell.localnet import init_network

    init_network(Path(out), n_nodes, suite, chain_id, clients, base_port, demo)
    click.echo(f"network of {n_nodes} validators ({suite}) written to {out}")


@main.group("node")
def node_group() -> None:
    """Run a node."""


@node_group.command("start")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--confirm-lost-votes", is_flag=True,
              help="this store lost the record of the validator's own votes (restored from a "
                   "backup, or copied): vote anyway. Only once the chain has moved past the "
                   "heights this validator may have voted at")
def node_start(config_path: str, confirm_lost_votes: bool) -> None:
    """Run one node from its config file until SIGTERM / Ctrl-C."""
    from shell.server import main as run_node

    sys.exit(run_node(config_path, confirm_lost_votes))


@main.group("net")
def net_group() -> None:
    """A whole local network."""


@net_group.command("up")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--seconds", default=0, type=click.IntRange(0),
              help="stop after this many seconds (0: run until Ctrl-C / SIGTERM)")
def net_up(directory: str, seconds: int) -> None:
    """Start every validator of a `network init` DIRECTORY as a subprocess."""
    from shell.localnet import LocalNet

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


@main.command()
@_url_option
def status(url: str) -> None:
    """A node's height, view, leader, peers and pool size."""
    click.echo(json.dumps(NodeClient(url).status(), indent=2))


# ---- transactions and proofs ----------------------------------------------------------------


@main.group()
def tx() -> None:
    """Transactions."""


@tx.command("send")
@_url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@_key_options
@click.option("--call", required=True, help="contract.method")
@click.option("--args", "args_json", default="{}", help="JSON map; bytes as {\"$bin\": hex}")
@click.option("--nonce", type=int, help="default: the sender's committed next nonce")
@click.option("--wait", is_flag=True, help="wait (≤ 30 s) until the transaction commits")
def tx_send(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
            call: str, args_json: str, nonce: int | None, wait: bool) -> None:
    """Sign a transaction and submit it to a node."""
    from ledger import jsonform

    suite, secret = _key(key_file, passphrase_env, passphrase_file)
    try:
        args = jsonform.tagged_from_json(json.loads(args_json))
    except ValueError as exc:
        fail(f"--args is not valid: {exc}")
    if not isinstance(args, dict):
        fail("--args must be a JSON map")
    client = NodeClient(url)
    signed = client.sign(suite, secret, call, args, nonce)
    submitted = client.submit([signed])
    click.echo(json.dumps({"accepted": submitted.accepted, "results": submitted.results},
                          indent=2))
    if wait:
        done = client.wait_committed(submitted.tx_ids()[0])
        click.echo(json.dumps({"tx_id": done.tx_id, "status": "committed",
                               "height": done.height, "index": done.index,
                               "receipt": jsonform.to_json(done.receipt.to_obj(),
                                                           jsonform.RECEIPT)}, indent=2))


@main.command()
@click.argument("key")
@_url_option
@click.option("--height", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def proof(key: str, url: str, height: int | None, out: str) -> None:
    """Fetch the proof bundle of state KEY (JSON form) into OUT."""
    res = NodeClient(url).proof(key, height)
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


# ---- the demo ---------------------------------------------------------------------------------


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="network directory to create (default: a new temporary directory)")
@click.option("--suite", default="sm2-sm3", show_default=True, type=SUITES)
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
    import tempfile

    from shell.demo import run_demo_story
    from shell.localnet import LocalNet, init_network, wait_ready

    if url is not None:
        if anchor_path is None:
            fail("--url needs --anchor (the network's anchor file)")
        run_demo_story([url], Path(str(anchor_path)), Path.cwd(), click.echo)
        return
    out = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="credchain-demo-"))
    manifest = init_network(out, 4, suite, "credchain-demo", 4, demo=True)
    click.echo(f"== a local network of 4 validators ({suite}) in {out} ==")
    net = LocalNet(out)
    net.start_all()
    try:
        urls = [n["http"] for n in manifest["nodes"]]
        wait_ready(urls, timeout_s=60.0)
        click.echo("   all 4 validators are up: " + ", ".join(urls))
        run_demo_story(urls, out / "anchor.json", out, click.echo)
    finally:
        codes = net.stop_all()
        click.echo(f"== network stopped (exit codes {codes}); its data stays in {out} ==")


# ---- the bidder -------------------------------------------------------------------------------


@main.group()
def bid() -> None:
    """The bidder's side: seal and submit a bid, reveal its key at opening, prove it."""


@bid.command("seal")
@_url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key bound to the bidder's attestation")
@_key_options
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

    suite, secret = _key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url)
    chain_id = client.status()["chain_id"]
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
    done = client.send(client.sign(suite, secret, "bid.submit",
                                   sealed.submit_args(guarantee)))
    if done.receipt.code != "OK":
        fail(f"bid refused: {done.receipt.code} {done.receipt.message}")
    record["tx_id"], record["height"] = done.tx_id, done.height
    Path(out).write_text(json.dumps(record, indent=2))
    click.echo(f"sealed bid committed at height {done.height} (tx {done.tx_id}); "
               f"commitment {sealed.commitment.hex()}; keep {out} until the opening")


@bid.command("reveal")
@_url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@_key_options
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
def bid_reveal(url: str, key_file: str, passphrase_env: str | None,
               passphrase_file: str | None, sealed_path: str) -> None:
    """Reveal the content key in the decryption window; the contract decrypts on chain."""
    from ledger import jsonform
    from shell.bidding import load_sealed

    record = load_sealed(sealed_path)
    suite, secret = _key(key_file, passphrase_env, passphrase_file)
    args = {"tender_id": record["tender_id"], "lot": int(record["lot"]),
            "content_key": bytes.fromhex(record["content_key"])}
    client = NodeClient(url)
    receipt = client.send(client.sign(suite, secret, "bid.reveal", args)).receipt
    shown = jsonform.to_json(receipt.to_obj(), jsonform.RECEIPT)
    click.echo(json.dumps({"code": shown["code"], "events": shown.get("events", [])},
                          indent=2))
    if receipt.code != "OK":
        fail(f"reveal refused: {receipt.code} {receipt.message}")


@bid.command("prove")
@_url_option
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def bid_prove(url: str, sealed_path: str, anchor_path: str, out: str) -> None:
    """Prove the sealed bid's commitment was on chain before the deadline (after it)."""
    from shell.bidding import load_sealed, prove_bid

    record = load_sealed(sealed_path)
    if "tx_id" not in record:
        fail(f"{sealed_path} has no committed bid transaction")
    result = prove_bid(NodeClient(url), Path(anchor_path), record["tender_id"],
                       int(record["lot"]), record["uscc"], bytes.fromhex(record["commitment"]),
                       record["tx_id"], Path(out))
    for text, ok in result.checks.items():
        click.echo(f"   [{'ok' if ok else 'FAILED'}] {text}")
    click.echo(f"   bid bundle: {result.bid_bundle} (key {result.key}, height {result.height},"
               f" block time {result.block_ms}, deadline {result.deadline_ms}); tender bundle:"
               f" {result.tender_bundle}")
    click.echo(f"   check it yourself: credchain verify {out} --anchor {anchor_path}")
    if not result.ok:
        fail("the commitment could not be proved")


# ---- audit ------------------------------------------------------------------------------------


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
    from shell.auditsrc import blocks_from_data, blocks_from_url

    if (url is None) == (data_dir is None):
        fail("give exactly one of --url and --data")
    doc = GenesisDoc.load(genesis_path)
    anchor = Anchor.load(anchor_path) if anchor_path else None
    source = (blocks_from_url(url, to_height) if url
              else blocks_from_data(Path(str(data_dir)), doc, to_height))
    started = time.monotonic()
    summary = replay(doc, source, anchor).to_json()
    seconds = time.monotonic() - started
    click.echo(f"replayed heights 1..{summary['head_height']} of {summary['chain_id']} "
               f"({summary['suite']}) in {seconds:.1f} s: {summary['transactions']} "
               f"transactions ({summary['failed_transactions']} failed receipts), "
               f"{summary['signatures_checked']} signatures checked, "
               f"validator changes at {summary['validator_changes'] or 'none'}")
    click.echo(f"head {summary['head_hash']}  state root {summary['state_root']}")
    if out:
        Path(out).write_text(json.dumps(summary, indent=2) + "\n")
        click.echo(f"report written to {out}")


if __name__ == "__main__":
    main()

"""``credchain network init``, ``network up`` and ``node start``: local networks and nodes."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from shell.commands.common import OUT_FILE, SUITES


@click.group()
def network() -> None:
    """Local networks: write one (init), run one (up)."""


@network.command("init")
@click.option("--nodes", "n_nodes", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--suite", default="ed25519-sha256", show_default=True, type=SUITES)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--chain-id", help="the chain id every transaction signs (default: "
                                  "credchain-local-<random hex>: a signature covers the chain "
                                  "id, not the genesis, so two networks sharing one would take "
                                  "each other's transactions)")
@click.option("--clients", default=4, show_default=True, type=click.IntRange(0, 1000))
@click.option("--base-port", default=0, show_default=True, type=click.IntRange(0, 65000),
              help="peer port of node 0 (node i: base+2i peer, base+2i+1 HTTP); 0 = free ports")
@click.option("--hosts", help="comma-separated addresses, one per node, for separate "
                             "machines (default: all on 127.0.0.1)")
@click.option("--heartbeat-ms", type=click.IntRange(100, 86_400_000),
              help="an idle chain writes an empty block this often: the chain parameter "
                   "heartbeat_ms in genesis, the same for every validator (default: 5 minutes; "
                   "1 second with --demo)")
@click.option("--demo", is_flag=True,
              help="grant the trading story's roles and SHORTENED demo periods in genesis "
                   "(contracts.scenario; for `credchain demo`), and write those roles' demo "
                   "keys to OUT/roles/")
def network_init(n_nodes: int, suite: str, out: str, chain_id: str | None, clients: int,
                 base_port: int, demo: bool, heartbeat_ms: int | None,
                 hosts: str | None) -> None:
    """Keys, genesis, node configs and anchor for an N-validator network in OUT: on
    loopback, or with --hosts one validator per machine (copy nodeI.toml, nodeI.key, the
    passphrase and genesis.json to machine I; keep the other keys off it)."""
    from shell.localnet import init_network

    host_list = [h.strip() for h in hosts.split(",")] if hosts else []
    if chain_id is None:
        import secrets

        chain_id = f"credchain-local-{secrets.token_hex(4)}"  # (user walk: one replayed)
    manifest = init_network(Path(out), n_nodes, suite, chain_id, clients, base_port, demo,
                            heartbeat_ms=heartbeat_ms, hosts=host_list)
    click.echo(f"network of {n_nodes} validators ({suite}, chain id {chain_id}) written to {out}")
    members = [c["key_file"] for c in manifest["clients"] if c["committee"]]
    if members:
        click.echo(f"the committee (gov proposals and votes): {', '.join(members)}")
    if manifest.get("role_keys"):
        click.echo("the demo's role keys, with the network's passphrase (demo keys anyone can "
                   "derive: never for real use):")
        for entry in manifest["role_keys"]:
            click.echo(f"  {entry['key_file']}  {entry['role']}")


@click.group("node")
def node_group() -> None:
    """Run a node."""


@node_group.command("init")
@click.option("--out", required=True, type=OUT_FILE,
              help="the config file to write (TOML); the paths in it are relative to its "
                   "folder where they lie under it, else absolute")
@click.option("--genesis", "genesis_file", required=True,
              type=click.Path(dir_okay=False, exists=True), help="the network's genesis.json")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="this node's key file (credchain keys new)")
@click.option("--passphrase-env", help="read the key's passphrase from this variable")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, exists=True),
              help="... or from this file (mode 0600)")
@click.option("--name", required=True, help="shown in logs and /status")
@click.option("--peer-port", required=True, type=click.IntRange(1, 65535))
@click.option("--http-port", required=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (0.0.0.0: every interface)")
@click.option("--peer", "peers", multiple=True, metavar="VALIDATOR@HOST:PORT",
              help="a validator's peer address; VALIDATOR is its name in genesis or its index "
                   "(repeat for each you know; more come from the chain's endpoint registry)")
@click.option("--data-dir", help="where the store goes (default: data/NAME beside the config)")
@click.option("--heartbeat-ms", type=click.IntRange(100, 86_400_000),
              help="only for a network whose genesis leaves the chain parameter heartbeat_ms "
                   "at 0: as its other nodes, an idle chain's empty block this often")
def node_init(out: str, genesis_file: str, key_file: str, passphrase_env: str | None,
              passphrase_file: str | None, name: str, peer_port: int, http_port: int,
              host: str, peers: tuple[str, ...], data_dir: str | None,
              heartbeat_ms: int | None) -> None:
    """Write the config of a node joining an existing network: a city's node starts as an
    observer (it follows and verifies the chain, serves the API and proofs, never votes)
    until the committee votes its key in; from that height on it votes."""
    from contracts.params import HEARTBEAT
    from ledger.genesis import GenesisDoc
    from ledger.keyfile import load_chain_key
    from shell.commands.common import fail
    from shell.config import NodeConfig, read_passphrase

    if (passphrase_env is None) == (passphrase_file is None):
        fail("give exactly one of --passphrase-env and --passphrase-file")
    doc = GenesisDoc.load(genesis_file)
    chain_heartbeat = doc.params.get(HEARTBEAT, 0)
    if chain_heartbeat and heartbeat_ms is not None:
        fail(f"--heartbeat-ms: this network's genesis sets the chain parameter heartbeat_ms "
             f"({chain_heartbeat} ms), which every validator follows; leave the option out")
    pubkey = load_chain_key(Path(key_file), read_passphrase(passphrase_env, passphrase_file),
                            doc.suite).public_key
    names = [v.name for v in doc.validators]
    keys = [v.pubkey for v in doc.validators]
    index = keys.index(pubkey) if pubkey in keys else None
    target = Path(out).resolve()

    def rel(path: str) -> str:
        p = Path(path).resolve()
        try:
            return str(p.relative_to(target.parent))
        except ValueError:
            return str(p)

    lines = [f"index = {index}  # its place in the validator set (checked against the key)"
             if index is not None else
             "# index: none; a node not yet voted in learns its place from the chain",
             f"name = {_toml(name)}", f"key_file = {_toml(rel(key_file))}",
             (f"passphrase_env = {_toml(passphrase_env)}" if passphrase_env else
              f"passphrase_file = {_toml(rel(str(passphrase_file)))}"),
             f"host = {_toml(host)}", f"peer_port = {peer_port}", f"http_port = {http_port}",
             f"data_dir = {_toml(rel(data_dir) if data_dir else f'data/{name}')}",
             f"genesis_file = {_toml(rel(genesis_file))}", ""]
    if heartbeat_ms is not None:
        from shell.localnet import TICK_MS

        lines += ["[replica]", f"empty_block_ticks = {max(1, heartbeat_ms // TICK_MS)}", ""]
    for entry in peers:
        who, _, address = entry.partition("@")
        peer_host, _, port = address.rpartition(":")
        if who.isdigit() and int(who) < len(names):
            peer_index = int(who)
        elif who in names:
            peer_index = names.index(who)
        else:
            fail(f"--peer {entry}: {who!r} is neither a validator's name in genesis "
                 f"({', '.join(names)}) nor its index")
        if not peer_host or not port.isdigit() or not 1 <= int(port) <= 65535:
            fail(f"--peer {entry}: expected VALIDATOR@HOST:PORT")
        lines += ["[[peers]]", f"index = {peer_index}  # {names[peer_index]}",
                  f"host = {_toml(peer_host)}", f"port = {port}", ""]
    if target.exists():
        fail(f"{out} exists; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    # What we write must load (ports, paths, the key): checked on a draft beside the target
    # (relative paths resolve alike), so a refused config leaves no file behind.
    draft = target.with_name(f".{target.name}.draft")
    draft.write_text("\n".join(lines))
    try:
        NodeConfig.load(draft)
    except BaseException:
        draft.unlink()
        raise
    draft.rename(target)
    role = f"validator {index}" if pubkey in keys else "an observer until voted in"
    click.echo(f"wrote {out} ({role}); public key {pubkey.hex()}")
    if chain_heartbeat:
        click.echo(f"heartbeat: the chain's (parameter heartbeat_ms), which the node "
                   f"follows: {chain_heartbeat} ms in genesis; a committee vote may have "
                   "changed it since (GET /status on a running node shows the one in force)")
    elif heartbeat_ms is None:
        click.echo("heartbeat: the default, an idle chain's empty block every 5 minutes; if "
                   f"the network's nodes use another, remove {out} and run this again with "
                   "--heartbeat-ms (a validator with a longer one misses its turns as leader)")
    click.echo(f"start it with: credchain node start --config {out}")


def _toml(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


@node_group.command("start")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--confirm-lost-votes", is_flag=True,
              help="this store lost the record of the validator's own votes (restored from a "
                   "backup, or copied): vote anyway. Only once the chain has moved past the "
                   "heights this validator may have voted at")
@click.option("--state-sync", is_flag=True,
              help="an empty data directory starts from the peers' snapshot of a recent "
                   "certified height instead of replaying from genesis (falls back to that "
                   "when no peer offers one); ignored once the store holds a chain")
def node_start(config_path: str, confirm_lost_votes: bool, state_sync: bool) -> None:
    """Run one node from its config file until SIGTERM / Ctrl-C."""
    from shell.server import main as run_node

    sys.exit(run_node(config_path, confirm_lost_votes, state_sync))


@node_group.command("resync")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option("--state-sync", is_flag=True,
              help="fill the new store from the peers' snapshot of a recent certified height "
                   "(falls back to genesis when no peer offers one)")
def node_resync(config_path: str, yes: bool, state_sync: bool) -> None:
    """Set the store aside (damaged, or to start again from a snapshot); the node then
    fetches and re-verifies the chain."""
    from shell.config import NodeConfig
    from shell.resync import resync
    from shell.server import setup_logging

    config = NodeConfig.load(config_path)
    if not yes:
        click.confirm(f"move {config.data_dir / 'db'} aside and rebuild it from the peers?",
                      abort=True)
    if state_sync:
        setup_logging(config.log)  # the sync's progress goes to the log, as the node's
    done = resync(config, state_sync)
    click.echo(f"the old store is kept in {done.old} (delete it once the node runs again); "
               f"a new one is in {done.fresh}")
    if done.state_synced is not None:
        click.echo(f"state-synced at height {done.state_synced.height} "
                   f"({done.state_synced.keys} keys, {done.state_synced.seconds:.1f} s)")
    elif state_sync:
        click.echo("no usable snapshot: the new store starts from genesis (see the log)")
    if done.records_kept:
        click.echo("this validator's vote records were carried over: it votes again once "
                   "past the heights it voted at")
    else:
        click.echo("the old vote records could not be read: the node will follow without "
                   "voting until you start it with --confirm-lost-votes")
    click.echo(f"start the node (credchain node start --config {config_path}); it fetches "
               "the chain from its peers, checking every block's QC and re-executing it")


@network.command("up")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--seconds", default=0, type=click.IntRange(0),
              help="stop after this many seconds (0: run until Ctrl-C / SIGTERM)")
def net_up(directory: str, seconds: int) -> None:
    """Start every validator of a `network init` DIRECTORY as a subprocess, until Ctrl-C or
    SIGTERM (then each is stopped). A validator that exits is named, with the command that
    starts it again; the others keep running."""
    from shell.localnet import LocalNet

    net = LocalNet(Path(directory), die_with_parent=True)
    net.start_all()
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # a closed terminal too
        signal.signal(signum, on_signal)
    for i, n in enumerate(net.manifest["nodes"]):
        click.echo(f"{n['config']}: {n['http']}  (log: {net.log_path(i)})")
    deadline = time.monotonic() + seconds if seconds else None
    said: dict[int, int | None] = {}  # validator -> its exit code, once said
    try:
        while not stop["now"] and (deadline is None or time.monotonic() < deadline):
            # A validator that exits is said once and the others run on: an operator
            # restarting one (README, "Stopping and restarting one validator") keeps the
            # network (user walk: one node's SIGTERM took all four down).
            for i, code, config in net.exits():
                if i not in said:
                    said[i] = code
                    click.echo(exit_line(i, code, config, net.log_path(i)), err=True)
            if len(said) == len(net.manifest["nodes"]):
                click.echo("every validator has exited; stopping", err=True)
                break
            time.sleep(0.2)
    finally:
        net.stop_all()
    if len(said) == len(net.manifest["nodes"]) and any(code != 0 for code in said.values()):
        sys.exit(1)  # none is running, and not because they were told to stop


def exit_line(i: int, code: int | None, config: str, log: Path) -> str:
    """What an operator needs when validator ``i`` exits: how (a code, or the signal that
    killed it), the last line of its log (why: a second ``network up`` of a running network
    had only "code 2" and the advice to start it again), and what to do."""
    how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exited (code {code})")
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    why = f": {lines[-1].strip()[:300]}" if lines else ""
    if code == 2:  # refused to start: the log's line says why; starting it again won't help
        return f"validator {i} {how}{why}; the others keep running. See {log}"
    return (f"validator {i} {how}{why}; the others keep running. Start it again with: "
            f"credchain node start --config {config}")

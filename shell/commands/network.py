"""``credchain network init``, ``net up`` and ``node start``: local networks and nodes."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from shell.commands.common import SUITES


@click.group()
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
@click.option("--hosts", help="comma-separated addresses, one per node, for separate "
                             "machines (default: all on 127.0.0.1)")
@click.option("--heartbeat-ms", type=click.IntRange(50, 86_400_000),
              help="an idle chain writes an empty block this often (default: 5 minutes)")
@click.option("--demo", is_flag=True,
              help="grant the trading story's roles and SHORTENED demo periods in genesis "
                   "(contracts.scenario; for `credchain demo`)")
def network_init(n_nodes: int, suite: str, out: str, chain_id: str, clients: int,
                 base_port: int, demo: bool, heartbeat_ms: int | None,
                 hosts: str | None) -> None:
    """Keys, genesis, node configs and anchor for an N-validator network in OUT: on
    loopback, or with --hosts one validator per machine (copy nodeI.toml, nodeI.key, the
    passphrase and genesis.json to machine I; keep the other keys off it)."""
    from shell.localnet import init_network

    host_list = [h.strip() for h in hosts.split(",")] if hosts else []
    init_network(Path(out), n_nodes, suite, chain_id, clients, base_port, demo,
                 heartbeat_ms=heartbeat_ms, hosts=host_list)
    click.echo(f"network of {n_nodes} validators ({suite}) written to {out}")


@click.group("node")
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


@node_group.command("resync")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def node_resync(config_path: str, yes: bool) -> None:
    """Set a damaged store aside; the node then fetches and re-verifies the chain."""
    from shell.config import NodeConfig
    from shell.resync import resync

    config = NodeConfig.load(config_path)
    if not yes:
        click.confirm(f"move {config.data_dir / 'db'} aside and rebuild it from the peers?",
                      abort=True)
    done = resync(config)
    click.echo(f"the damaged store is now {done.damaged}; a new one is in {done.fresh}")
    if done.records_kept:
        click.echo("this validator's vote records were carried over: it votes again once "
                   "past the heights it voted at")
    else:
        click.echo("the old vote records could not be read: the node will follow without "
                   "voting until you start it with --confirm-lost-votes")
    click.echo(f"start the node (credchain node start --config {config_path}); it fetches "
               "the chain from its peers, checking every block's QC and re-executing it")


@click.group("net")
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

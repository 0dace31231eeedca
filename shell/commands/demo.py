"""``credchain demo``: a local network with the trading story running through it."""

from __future__ import annotations

from pathlib import Path

import click

from shell.commands.common import SUITES, fail


@click.command()
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
    # The story waits for block time to pass: an idle demo chain writes a block a second.
    manifest = init_network(out, 4, suite, "credchain-demo", 4, demo=True, heartbeat_ms=1000)
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

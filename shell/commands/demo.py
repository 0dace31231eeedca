"""``credchain demo``: a local network with the trading story running through it."""

from __future__ import annotations

from pathlib import Path

import click

from shell.commands.common import HTTP_URL, SUITES, fail


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="network directory to create (default: a new temporary directory)")
@click.option("--suite", default="sm2-sm3", show_default=True, type=SUITES)
@click.option("--url", type=HTTP_URL,
              help="run against this node of a running `network init --demo` network instead "
                   "of starting one (needs --anchor)")
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
              help="the anchor file of the network given by --url")
@click.option("--keep", is_flag=True,
              help="keep the network running after the story, until Ctrl-C, to click "
                   "through the portal")
def demo(directory: str | None, suite: str, url: str | None, anchor_path: str | None,
         keep: bool) -> None:
    """Start a local 4-validator network and run the whole trading story through it.

    The story (contracts.scenario) runs over the HTTP API of one node; at the end the
    winner's sealed-bid commitment is proved from ANOTHER node with a proof bundle, which is
    then verified offline against the genesis anchor alone. It ends with the address of
    the disclosure portal (/portal/ on every node); with --keep the network stays up until
    Ctrl-C so a person can click through it and verify records in the browser.
    """
    import tempfile

    from contracts.scenario_kit import ScenarioError
    from shell.demo import keep_running, portal_lines, run_demo_story
    from shell.localnet import LocalNet, init_network, wait_ready

    if url is not None:
        if anchor_path is None:
            fail("--url needs --anchor (the network's anchor file)")
        if keep:
            fail("--keep keeps a network this command started; with --url it is yours")
        try:
            summary = run_demo_story([url], Path(str(anchor_path)), Path.cwd(), click.echo)
        except ScenarioError as exc:
            fail(f"the story stopped: {exc}")
        for line in portal_lines(url, Path(str(anchor_path)), summary):
            click.echo(line)
        return
    out = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="credchain-demo-"))
    # The story waits for block time to pass: an idle demo chain writes a block a second.
    manifest = init_network(out, 4, suite, "credchain-demo", 4, demo=True)
    click.echo(f"== a local network of 4 validators ({suite}) in {out} ==")
    net = LocalNet(out, die_with_parent=True)
    net.start_all()
    try:
        urls = [n["http"] for n in manifest["nodes"]]
        wait_ready(urls, timeout_s=60.0)
        click.echo("   all 4 validators are up: " + ", ".join(urls))
        summary = run_demo_story(urls, out / "anchor.json", out, click.echo)
        for line in portal_lines(urls[-1], out / "anchor.json", summary):
            click.echo(line)
        if keep:
            keep_running(click.echo, exited=net.exits)
        else:
            click.echo("   (the network stops now: `credchain demo --keep` keeps it up to "
                       "click through)")
    finally:
        codes = net.stop_all()
        click.echo(f"== network stopped (exit codes {codes}); its data stays in {out} ==")

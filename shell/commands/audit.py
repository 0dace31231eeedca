"""``credchain audit``: replay and check a chain's whole history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from shell.commands.common import fail


@click.group()
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

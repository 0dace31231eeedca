"""``credchain audit``: replay and check a chain's whole history; export it.

Both commands re-execute every block from genesis (``shell.auditrun``), with progress on
stderr, and can resume: ``replay --state-dir DIR`` and ``export`` (whose replay state lives
beside the export, ``OUT.replay/``) continue from where the last run stopped. A node shows
whole blocks to supervisors only, so ``--url`` needs a supervisor's ``--key``; a run meeting
a block the node withholds stops there, keeps what it verified, and exits 3 ("partial").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from shell.commands.common import HTTP_URL, OUT_FILE, fail, key_options, load_key

PARTIAL_EXIT = 3


def reader_key_options(f: Any) -> Any:
    """``--key`` (with its passphrase options): the key a node's API is read as."""
    f = key_options(f)
    return click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
                        help="with --url: read the node as this key (a supervisor's: the node "
                             "shows whole blocks to supervisors only)")(f)


def reader_secret(doc: Any, key_file: str | None, env: str | None,
                  file: str | None) -> bytes | None:
    if key_file is None:
        return None
    suite, secret = load_key(key_file, env, file)
    if suite.name != doc.suite:
        fail(f"{key_file} is a {suite.name} key; the chain uses {doc.suite}")
    return secret


def chain_source(doc: Any, anchor: Any, url: str | None, data_dir: str | None,
                 key_file: str | None, env: str | None, file: str | None) -> Any:
    """The blocks of the chain ``doc`` starts, from a node's API or a stopped node's data.
    The genesis is checked against the anchor first, before any key is loaded or block read
    (the replay checks it again as it starts, for its other callers); a node serving another
    chain is refused by the source itself (``shell.auditsrc.UrlSource``)."""
    from ledger.genesis import default_state, genesis_block
    from shell.auditsrc import open_source

    if anchor is not None and (anchor.genesis_hash()
                               != genesis_block(doc, default_state(doc)).hash(doc.crypto)):
        fail("the genesis document does not hash to the anchor's genesis: they are not the "
             "same chain's")
    return open_source(url, data_dir, doc, reader_secret(doc, key_file, env, file))


def _source_options(f: Any) -> Any:
    f = reader_key_options(f)
    f = click.option("--progress-every", default=1000, show_default=True,
                     type=click.IntRange(1),
                     help="a progress line per this many blocks (off a terminal)")(f)
    f = click.option("--to-height", type=click.IntRange(0),
                     help="stop after this height (default: the head)")(f)
    f = click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True),
                     help="read blocks and QCs from a STOPPED node's data_dir instead")(f)
    f = click.option("--url", type=HTTP_URL,
                     help="fetch blocks and QCs from this node's HTTP API")(f)
    f = click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
                     help="the consortium's anchor file: the genesis must hash to it")(f)
    f = click.option("--genesis", "genesis_path", required=True,
                     type=click.Path(dir_okay=False, exists=True),
                     help="the chain's genesis document")(f)
    return f


@click.group()
def audit() -> None:
    """Replay and check a chain's whole history; export it for queries."""
    # What these commands write (an export, its Parquet files, a replay's state) holds whole
    # blocks: bidders' identities and secrets from before a deadline. Readable by the owner
    # only, as bid prove's inclusion file is (user walk: chain.sqlite was 0644). Restored
    # when the command ends (an in-process caller, a test, keeps its own).
    before = os.umask(0o077)
    click.get_current_context().call_on_close(lambda: os.umask(before))


@audit.command("replay")
@_source_options
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="keep the replay's own store here and resume from it on the next run")
@click.option("--out", type=OUT_FILE, help="write the report (JSON) here")
def audit_replay(genesis_path: str, anchor_path: str | None, url: str | None,
                 data_dir: str | None, to_height: int | None, progress_every: int,
                 key_file: str | None, passphrase_env: str | None,
                 passphrase_file: str | None, state_dir: str | None, out: str | None) -> None:
    """Re-execute every block from genesis, checking every signature, root and QC."""
    from ledger.genesis import Anchor, GenesisDoc
    from shell.auditrun import run_replay

    doc = GenesisDoc.load(genesis_path)
    anchor = Anchor.load(anchor_path) if anchor_path else None
    source = chain_source(doc, anchor, url, data_dir, key_file, passphrase_env, passphrase_file)
    started = time.monotonic()
    try:
        _check_to_height(source, to_height)
        result = run_replay(doc, anchor, source, Path(state_dir) if state_dir else None,
                            to_height, sys.stderr, progress_every)
    finally:
        source.close()
    seconds = time.monotonic() - started
    summary = result.summary()
    resumed = (f" (resumed at {summary['resumed_from']}: heights 1..{summary['resumed_from']}"
               " were verified by earlier runs)" if summary["resumed_from"] else "")
    if summary["head_height"] == 0:
        click.echo(f"replayed no height of {summary['chain_id']} ({summary['suite']}): "
                   "nothing past genesis was verified")
    else:
        click.echo(f"replayed heights 1..{summary['head_height']} of {summary['chain_id']} "
                   f"({summary['suite']}), {len(result.report.blocks)} in this run in "
                   f"{seconds:.1f} s{resumed}: {summary['transactions']} transactions "
                   f"({summary['failed_transactions']} failed receipts), "
                   f"{summary['signatures_checked']} signatures checked, "
                   f"validator changes at {_heights(summary['validator_changes'])}")
        click.echo(f"head {summary['head_hash']}  state root {summary['state_root']}")
    if out:
        Path(out).write_text(json.dumps(summary, indent=2) + "\n")
        click.echo(f"report written to {out}")
    if result.stopped is not None:
        click.echo(f"PARTIAL: {result.stopped}", err=True)
        sys.exit(PARTIAL_EXIT)


@audit.command("headers")
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="the consortium's anchor file (genesis header and validator set)")
@click.option("--url", type=HTTP_URL, required=True, help="a node's HTTP API")
@click.option("--to-height", type=click.IntRange(1), help="stop at this height (default: "
                                                          "the head)")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def audit_headers(anchor_path: str, url: str, to_height: int | None, as_json: bool) -> None:
    """Check the certified chain of headers from the genesis anchor, with no key: every
    header follows the one before and carries a QC of the validator set in force. What a
    non-supervisor can check (blocks' contents are shown to supervisors only; `audit
    replay` re-executes them). Exit 0 valid, 1 not, 3 when the node does not keep the early
    headers (a node started by state sync: ask an archive node)."""
    from ledger import bundle
    from ledger.errors import InvalidInput, ProofError
    from ledger.genesis import Anchor
    from shell.auditheaders import check_headers
    from shell.auditsrc import ARCHIVE_NODE
    from shell.client import NodeClient, NodeError

    anchor = Anchor.load(anchor_path)
    client = NodeClient(url)
    head = client.head_height()
    if to_height is not None and to_height > head:  # said as such, not as a bundle's height
        fail(f"--to-height {to_height} is above the node's head, {head}")
    top = to_height or head
    raw = client.proof("gov/validators", top)  # its validator_chain: every set change below
    started = time.monotonic()
    try:
        certified = bundle.parse_certified(bundle.from_json(raw), "bundle")
        report = check_headers(anchor, certified, client.certified_header, top)
    except (ProofError, InvalidInput) as exc:
        click.echo(f"NOT VALID: {exc}")
        sys.exit(1)
    except NodeError as exc:
        if exc.status != 410:  # below the oldest height the node keeps: not a verdict
            raise
        click.echo(f"PARTIAL: the node does not keep every header ({exc.reason}): "
                   f"{ARCHIVE_NODE}", err=True)
        sys.exit(PARTIAL_EXIT)
    seconds = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({"head_height": report.head_height,
                               "head_hash": report.head_hash.hex(),
                               "votes_checked": report.votes_checked,
                               "validator_changes": report.validator_changes}, indent=2))
        return
    click.echo(f"VALID: headers 1..{report.head_height} of {anchor.header.chain_id} form one "
               f"chain from the genesis anchor, each certified by its validator set "
               f"({report.votes_checked} commit signatures checked in {seconds:.1f} s; "
               f"validator changes at {_heights(report.validator_changes)})")
    click.echo(f"head {report.head_hash.hex()}")
    click.echo("not checked: what the blocks hold (transactions, receipts, state roots are "
               "certified by those signatures, not recomputed): `audit replay` with a "
               "supervisor's key or a stopped node's data does that")


@audit.command("export")
@_source_options
@click.option("--out", required=True, type=OUT_FILE,
              help="the SQLite export (created, or appended to when it exists)")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="the replay state the export continues from (default: OUT.replay)")
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False),
              help="also mirror the export as Parquet part files in this directory "
                   "(needs the [parquet] extra)")
def audit_export(genesis_path: str, anchor_path: str | None, url: str | None,
                 data_dir: str | None, to_height: int | None, progress_every: int,
                 key_file: str | None, passphrase_env: str | None,
                 passphrase_file: str | None, out: str, state_dir: str | None,
                 parquet_dir: str | None) -> None:
    """Export blocks, transactions (decoded calls and args), receipts, events and state
    changes into SQLite (schema: shell/export.py), checking every block as a replay does.

    Re-running appends the heights after the export's tip, once the tip is checked to be
    the source's block at that height."""
    from ledger.genesis import Anchor, GenesisDoc

    doc = GenesisDoc.load(genesis_path)
    anchor = Anchor.load(anchor_path) if anchor_path else None
    if parquet_dir is not None:
        from shell.parquet import require_pyarrow

        require_pyarrow()  # refuse now, not after a long export
    out_path = Path(out)
    source = chain_source(doc, anchor, url, data_dir, key_file, passphrase_env, passphrase_file)
    try:
        _check_to_height(source, to_height)
        result, first_height, rows = export_chain(doc, anchor, source, out_path, state_dir,
                                             to_height, progress_every)
    finally:
        source.close()
    with_genesis = ", the genesis state's with them" if first_height == 1 else ""
    done = (f"exported heights {first_height}..{result.head_height} ({rows:,} rows"
            f"{with_genesis})"
            if result.head_height >= first_height else
            f"nothing exported (stopped before height {first_height})" if result.stopped
            else "nothing new to export")
    click.echo(f"{done} of {doc.chain_id} in {out}; tip {result.head_height} "
               f"{result.head_hash.hex()} state root {result.state_root.hex()}")
    if parquet_dir is not None:
        from shell.parquet import mirror

        first, last, copied = mirror(out_path, Path(parquet_dir))
        click.echo(f"Parquet: heights {first}..{last} ({copied:,} rows) written to "
                   f"{parquet_dir}" if first <= last else f"Parquet: {parquet_dir} is up to "
                   f"date (height {last})")
    if result.stopped is not None:
        click.echo(f"PARTIAL: {result.stopped}", err=True)
        sys.exit(PARTIAL_EXIT)


def export_chain(doc: Any, anchor: Any, source: Any, out_path: Path, state_dir: str | None,
            to_height: int | None, progress_every: int) -> tuple[Any, int, int]:
    from shell.auditrun import run_replay
    from shell.export import Export

    export = Export(out_path, doc)
    try:
        tip = export.tip()
        if tip.height > 0 and source.block_hash(tip.height) != tip.hash:
            fail(f"the export's tip (height {tip.height}, {tip.hash.hex()[:16]}…) is not the "
                 "source's block at that height: this export follows another chain, or the "
                 "source is behind it")
        rows = 0

        def taken() -> int:
            nonlocal rows
            got = export.take_rows()
            rows += got
            return got

        result = run_replay(doc, anchor, source,
                            Path(state_dir) if state_dir else out_path.with_name(
                                out_path.name + ".replay"),
                            to_height, sys.stderr, progress_every,
                            before_commit=export.record, rows_taken=taken, label="export",
                            start_at_most=tip.height)
        taken()
        return result, tip.height + 1, rows
    finally:
        export.close()


def _heights(heights: list[int]) -> str:
    """Heights as text ("7, 12"), not Python's list (auditor walk: "[7]")."""
    return ", ".join(map(str, heights)) or "none"


def _check_to_height(source: Any, to_height: int | None) -> None:
    """``--to-height`` above the source's head is said, as ``audit headers`` says it
    (auditor walk: replay stopped at the head in silence, exit 0)."""
    if to_height is not None:
        head = source.head()
        if to_height > head:
            fail(f"--to-height {to_height} is above the source's head, {head}")

"""``credchain history``: an entity's history and a tender's timeline, in Beijing time.

They read an export (``credchain audit export``): ``--db FILE`` alone reads it as it is;
with ``--genesis`` and ``--url`` or ``--data`` the export is first brought up to date from the
chain (every new block re-executed and checked), into ``--db`` when given (kept for the next
question) or into a temporary file. A node shows whole blocks to supervisors only: reading
it by ``--url`` needs a supervisor's ``--key``; a block withheld ends the history at the
block before it: the output says so ("PARTIAL", on stderr) and the command exits 3, as
``audit replay`` does, so that "nothing about this entity" is never taken for the whole chain.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from shell.commands.common import HTTP_URL, fail


def _options(f: Any) -> Any:
    from shell.commands.audit import reader_key_options

    f = reader_key_options(f)
    f = click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
                     help="the consortium's anchor file: the genesis must hash to it")(f)
    f = click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True),
                     help="read the chain from a STOPPED node's data_dir")(f)
    f = click.option("--url", type=HTTP_URL, help="read the chain from this node's HTTP API")(f)
    f = click.option("--genesis", "genesis_path", type=click.Path(dir_okay=False, exists=True),
                     help="the chain's genesis document (to read the chain itself)")(f)
    f = click.option("--db", "db_path", type=click.Path(dir_okay=False),
                     help="an export (`credchain audit export`); updated first when the chain "
                          "is named too")(f)
    return f


@click.group()
def history() -> None:
    """An entity's history or a tender's timeline, from the chain or an export."""
    # the export it brings up to date (--db) holds whole blocks: as audit export's, the
    # owner's alone (restored when the command ends)
    before = os.umask(0o077)
    click.get_current_context().call_on_close(lambda: os.umask(before))


def _answer(db_path: str | None, genesis_path: str | None, url: str | None,
            data_dir: str | None, anchor_path: str | None, key: tuple[Any, ...],
            ask: Any) -> None:
    """Print ``ask(export)`` once the export is brought up to date from the chain (when it is
    named); a history the chain's reading stopped short of ends with PARTIAL and exit 3."""
    from shell.commands.audit import PARTIAL_EXIT
    from shell.export import open_reader

    stopped: str | None = None
    with tempfile.TemporaryDirectory(prefix="credchain-history-") as scratch:
        if genesis_path is not None:
            stopped = _refresh(Path(db_path) if db_path else Path(scratch) / "export.sqlite",
                               genesis_path, url, data_dir, anchor_path, key)
            db_path = db_path or str(Path(scratch) / "export.sqlite")
        elif url is not None or data_dir is not None:
            fail("reading the chain needs its genesis document (--genesis)")
        if db_path is None:
            fail("give an export (--db) or the chain (--genesis with --url or --data)")
        db = open_reader(Path(db_path))
        missing: str | None = None
        try:
            lines = ask(db)
        except LookupError as exc:  # nothing to show: exit 1, unless the reading stopped short
            lines, missing = [], str(exc.args[0] if exc.args else exc)
        finally:
            db.close()
    for line in lines:
        click.echo(line)
    if stopped is not None:
        if missing is not None:  # not "there is none": this reader saw only so far
            click.echo(f"{missing}, the last this reader was shown: later blocks may hold it")
        click.echo(f"PARTIAL: {stopped}", err=True)
        sys.exit(PARTIAL_EXIT)
    if missing is not None:
        fail(missing)


def _refresh(db_path: Path, genesis_path: str, url: str | None, data_dir: str | None,
             anchor_path: str | None, key: tuple[Any, ...]) -> str | None:
    """Bring the export up to date from the chain; why it stopped short, or None."""
    from ledger.genesis import Anchor, GenesisDoc
    from shell.commands.audit import chain_source, export_chain

    doc = GenesisDoc.load(genesis_path)
    anchor = Anchor.load(anchor_path) if anchor_path else None
    source = chain_source(doc, anchor, url, data_dir, *key)
    try:
        result, _, _ = export_chain(doc, anchor, source, db_path, None, None, 1000)
    finally:
        source.close()
    if result.stopped is None:
        return None
    return (f"the history ends at block {result.head_height}, the last this reader was "
            f"shown: {result.stopped}")


@history.command("entity")
@click.argument("uscc")
@_options
def history_entity(uscc: str, db_path: str | None, genesis_path: str | None, url: str | None,
                   data_dir: str | None, anchor_path: str | None, key_file: str | None,
                   passphrase_env: str | None, passphrase_file: str | None) -> None:
    """USCC's attestations, keys, credit records, guarantees, bids and objections."""
    from contracts.uscc import valid_uscc
    from shell.history import entity_history

    if not valid_uscc(uscc):
        fail(f"{uscc!r} is not a valid unified social credit code (GB 32100-2015)")
    _answer(db_path, genesis_path, url, data_dir, anchor_path,
            (key_file, passphrase_env, passphrase_file), lambda db: entity_history(db, uscc))


@history.command("tender")
@click.argument("tender_id")
@_options
def history_tender(tender_id: str, db_path: str | None, genesis_path: str | None,
                   url: str | None, data_dir: str | None, anchor_path: str | None,
                   key_file: str | None, passphrase_env: str | None,
                   passphrase_file: str | None) -> None:
    """A tender's timeline: announcement to archive."""
    from shell.history import tender_timeline

    _answer(db_path, genesis_path, url, data_dir, anchor_path,
            (key_file, passphrase_env, passphrase_file), lambda db: tender_timeline(db, tender_id))

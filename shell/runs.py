"""Which run of its data directory a store last served: a restored copy of ``db/`` is found.

A validator's store holds its own vote records (``consensus.durable``): the view it is in
and what it voted there. A copy of ``db/`` taken earlier and put back (a restored backup)
lacks the votes of every run since, and a node that starts on it could vote again, and
differently, in a round it had voted in before the copy was restored. The owner record
catches a store copied from another validator, not an older copy of the node's own.

So the node counts its runs in two places: the store (``c/run``, a consensus record, so
``node resync`` carries it over) and a small file beside the store, ``DATA_DIR/run`` (the
README's backups copy and restore ``db/``, never this file). At every start they must agree;
then both count one more run: the file's new count is written (and synced) to a temporary
file first, so a directory the node may not write, or a full disk, fails the start before
the store counted anything (operator walk: it had counted, and the next start took the
store for a restored backup); then the store (written synced); then the file is renamed
into place. A store whose count differs is from another run than the directory's last, and
a store that has run before in a directory with no ``run`` file is a copy restored into a
new directory (operator walk: the usual restore after a lost disk voted at once): the node
follows the chain without voting until the operator confirms the loss
(``--confirm-lost-votes``), as for any store that lost its records.

What it can't see: a copy of ``db/`` taken *while the node ran* and restored before its next
start (the same run), and a restore of the whole data directory, ``run`` file included. A
crash between the store's write and the rename at start (a few milliseconds) is reported
as a restore; the operator confirms. A store from before this count existed starts it.
"""

from __future__ import annotations

import os
from pathlib import Path

from consensus import durable
from ledger.kv import KV

RUN_FILE = "run"


def check_run(data_dir: Path, kv: KV, confirm: bool) -> str | None:
    """Why the store is not the one this directory last ran (the node must not vote), or
    None; then (or when ``confirm``) counts this run in both places."""
    path = data_dir / RUN_FILE
    in_store = _number(kv.get(durable.RUN_KEY))
    try:
        in_file: int | None = int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        in_file = None
    except (OSError, ValueError) as exc:
        if not confirm:
            return f"{path} is unreadable ({exc}): the store's run can't be checked"
        in_file = None
    if in_file is not None and in_store != in_file and not confirm:
        return (f"this store was last used in run {in_store if in_store is not None else '?'}"
                f" of the node, its data directory in run {in_file}: a copy of db/ restored "
                "from a backup lacks the votes of the runs since")
    if in_file is None and in_store is not None and not confirm:
        return (f"this store was last used in run {in_store} of the node, in a data "
                f"directory with a {RUN_FILE} file, and {data_dir} has none: a copy of db/ "
                "restored into a new directory lacks the votes of the runs since its copy")
    run = max(in_store or 0, in_file or 0) + 1
    temp = path.with_name(RUN_FILE + ".tmp")
    with open(temp, "w", encoding="ascii") as f:  # fails here, before the store counts
        f.write(f"{run}\n")
        f.flush()
        os.fsync(f.fileno())
    batch = kv.batch()
    batch.put(durable.RUN_KEY, str(run).encode())
    kv.write(batch, sync=True)
    os.replace(temp, path)
    return None


def _number(raw: bytes | None) -> int | None:
    try:
        return int(raw.decode()) if raw is not None else None
    except (UnicodeDecodeError, ValueError):
        return None

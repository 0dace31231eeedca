"""The export as Parquet, for analysis at scale (DuckDB, Spark, pandas, Polars).

``mirror(sqlite_path, out_dir)`` copies the heights an export (``shell.export``) holds past
the Parquet copy's tip into new part files, one directory per table with the same columns
as the SQLite tables (``INTEGER`` → int64, ``TEXT`` → string, ``BLOB`` → binary)::

    OUT/blocks/part-000000000001-000000010000.parquet
    OUT/transactions/part-...   OUT/events/part-...   OUT/state_changes/part-...
    OUT/_tip.json               {"height", "hash", "chain_id", "genesis_hash"}

DuckDB reads a table as ``read_parquet('OUT/transactions/*.parquet')``, Spark as
``spark.read.parquet("OUT/transactions")``. SQLite is the journal the export appends to
(one transaction per block); Parquet files can't be appended to, so each run adds parts
covering ``(tip, new tip]`` in windows of ``WINDOW_BLOCKS`` heights (bounded memory), and
``_tip.json`` is replaced last: a crash leaves parts past the recorded tip, which the next
run removes before writing. The recorded tip's hash must be the SQLite export's block at
that height (the two describe one chain). Needs ``pyarrow``: ``pip install 'credchain[parquet]'``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput
from shell.export import TABLES

WINDOW_BLOCKS = 10_000
_PART = re.compile(r"part-(\d{12})-(\d{12})\.parquet")
_ARROW_TYPES = {"INTEGER": "int64", "TEXT": "string", "BLOB": "binary"}


def require_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InvalidInput("Parquet output needs pyarrow: pip install 'credchain[parquet]'"
                           ) from None
    return pyarrow


def _meta(db: sqlite3.Connection, name: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise InvalidInput(f"the export has no {name}")
    return str(row[0])


def _read_tip(out_dir: Path, db: sqlite3.Connection) -> int:
    path = out_dir / "_tip.json"
    if not path.exists():
        return -1  # nothing yet: height 0 (genesis) is the first to copy
    tip = json.loads(path.read_text())
    if tip.get("genesis_hash") != _meta(db, "genesis_hash"):
        raise InvalidInput(f"{out_dir} holds Parquet of another chain")
    row = db.execute("SELECT hash FROM blocks WHERE height = ?", (tip["height"],)).fetchone()
    if row is None or bytes(row[0]).hex() != tip["hash"]:
        raise InvalidInput(f"the Parquet copy in {out_dir} ends at a block (height "
                           f"{tip['height']}) the export does not hold: remove it and run again")
    return int(tip["height"])


def _remove_orphans(out_dir: Path, tip: int) -> None:
    for table, _, _ in TABLES:
        for part in (out_dir / table).glob("part-*.parquet"):
            m = _PART.fullmatch(part.name)
            if m and int(m.group(1)) > tip:
                part.unlink()  # written by a run that stopped before recording its tip


def mirror(sqlite_path: Path, out_dir: Path) -> tuple[int, int, int]:
    """Copy new heights to Parquet; returns ``(first, last, rows)`` copied (``first > last``
    when there was nothing new)."""
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    db = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tip = _read_tip(out_dir, db)
        _remove_orphans(out_dir, tip)
        last = int(_meta(db, "tip_height"))
        rows = 0
        start = tip + 1
        while start <= last:
            end = min(last, start + WINDOW_BLOCKS - 1)
            for table, columns, _ in TABLES:
                names = [name for name, _ in columns]
                schema = pa.schema([(name, getattr(pa, _ARROW_TYPES[kind])())
                                    for name, kind in columns])
                got = db.execute(f"SELECT {', '.join(names)} FROM {table} "
                                 "WHERE height BETWEEN ? AND ? ORDER BY height",
                                 (start, end)).fetchall()
                data = {name: [r[i] for r in got] for i, name in enumerate(names)}
                part_dir = out_dir / table
                part_dir.mkdir(exist_ok=True)
                final = part_dir / f"part-{start:012d}-{end:012d}.parquet"
                temp = final.with_name(final.name + ".tmp")
                pq.write_table(pa.table(data, schema=schema), str(temp), compression="zstd")
                os.replace(temp, final)
                rows += len(got)
            tip_doc = {"height": end, "hash": bytes(db.execute(
                "SELECT hash FROM blocks WHERE height = ?", (end,)).fetchone()[0]).hex(),
                "chain_id": _meta(db, "chain_id"), "genesis_hash": _meta(db, "genesis_hash")}
            temp_tip = out_dir / "_tip.json.tmp"
            temp_tip.write_text(json.dumps(tip_doc, indent=2) + "\n")
            os.replace(temp_tip, out_dir / "_tip.json")
            start = end + 1
        return tip + 1, last, rows
    finally:
        db.close()

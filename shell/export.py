"""``credchain audit export``: the chain's history in SQLite, for queries with no server.

The export is a by-product of a full audit replay (``shell.auditrun``): every block is
checked (signatures, roots, QC) and re-executed before it is written, and the state changes
are the very writes its re-execution committed. One SQLite file, schema version 2:

- ``meta`` (name, value): schema_version, chain_id, suite, genesis_hash, tip_height,
  tip_hash, tip_state_root, counted_from (the first height ``row_counts`` covers).
- ``blocks``, one row per block (height 0 is genesis): height, hash, prev_hash, time_ms,
  time (Beijing), view, proposer, tx_count, failed_count, state_root, tx_root,
  receipts_root, validators_hash, next_validators_hash, qc_votes, qc (CE).
- ``transactions``, one per transaction, with its receipt: tx_id, height, idx, sender,
  sender_entity (the USCC the sender's key was bound to; for a one-time agent's sealed bid
  call, the entity whose key authorised it: ``contracts.agents``), nonce, call, contract, method,
  args (JSON), tender_id (when the call names one), code, message, ok, raw (CE signed tx).
- ``events``, one per receipt event: height, tx_idx, event_idx, tx_id, type, attrs (JSON),
  tender_id, uscc.
- ``state_changes``, one per key a block wrote: height, key, namespace, value (CE; NULL
  when deleted), value_json, deleted, entity (the USCC the record is about), tender_id.
- ``row_counts``, one per block: height, events, state_changes — how many rows the block
  wrote to those tables (``blocks.tx_count`` counts its transactions).

Hashes, ids, keys and CE values are BLOBs; times are Unix ms (UTC) with a Beijing-time text
column beside them where a person reads them.
JSON columns follow ``ledger.jsonform``'s tagged convention (bytes as ``{"$bin": hex}``),
except that a byte string longer than ``JSON_BIN_MAX`` (256) bytes — a sealed summary — is
shown as ``{"$bin_omitted": length}``: the CE columns (``value``, ``raw``) hold every byte.
Height 0 holds the genesis block and the genesis state as state changes, so the state at
any height is the last change of each key at or below it. Indexes serve the questions the
``history`` commands ask: by entity, by tender, by key, by call, by event type, by time.

**Whole or refused.** Rows deleted by hand or a file cut short would otherwise go unseen: a
resumed export only checks its tip's hash, and a history would silently leave lines out.
So both open the file through ``check_whole``: every height from 0 to the tip, each
block's transactions, events and state changes as many as it wrote — a few aggregate
queries, about a millisecond per 1,000 blocks. Schema 1 (before
``row_counts``) is still read and resumed: its transactions are checked, and a resumed one
becomes schema 2 with ``counted_from`` at its next height.

**Incremental.** Re-running appends heights after the stored tip, after checking that the
tip's block hash is still the source's block at that height. Each block is one SQLite
transaction, committed (WAL, ``synchronous=FULL``) *before* the replay's own store commits
it (``contracts.audit``'s ``before_commit`` hook), so the export is never behind the replay
state; a block it already holds (a crash between the two commits) is checked by hash and
not written twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.agents import acting_key
from contracts.audit import Committing
from ledger import encoding, jsonform
from ledger.block import Header
from ledger.crypto import Suite
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc
from ledger.verdict import beijing_time

SCHEMA_VERSION = 2
# Schema 1 is schema 2 without ``row_counts`` and ``counted_from``.
READABLE_VERSIONS = ("1", "2")

# (table, [(column, SQL type)], primary key): one list makes the DDL and the Parquet schema.
TABLES: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = (
    ("blocks", (("height", "INTEGER"), ("hash", "BLOB"), ("prev_hash", "BLOB"),
                ("time_ms", "INTEGER"), ("time", "TEXT"), ("view", "INTEGER"),
                ("proposer", "INTEGER"), ("tx_count", "INTEGER"), ("failed_count", "INTEGER"),
                ("state_root", "BLOB"), ("tx_root", "BLOB"), ("receipts_root", "BLOB"),
                ("validators_hash", "BLOB"), ("next_validators_hash", "BLOB"),
                ("qc_votes", "INTEGER"), ("qc", "BLOB")), "height"),
    ("transactions", (("tx_id", "BLOB"), ("height", "INTEGER"), ("idx", "INTEGER"),
                      ("sender", "BLOB"), ("sender_entity", "TEXT"), ("nonce", "INTEGER"),
                      ("call", "TEXT"), ("contract", "TEXT"), ("method", "TEXT"),
                      ("args", "TEXT"), ("tender_id", "TEXT"), ("code", "TEXT"),
                      ("message", "TEXT"), ("ok", "INTEGER"), ("raw", "BLOB")), "tx_id"),
    ("events", (("height", "INTEGER"), ("tx_idx", "INTEGER"), ("event_idx", "INTEGER"),
                ("tx_id", "BLOB"), ("type", "TEXT"), ("attrs", "TEXT"), ("tender_id", "TEXT"),
                ("uscc", "TEXT")), "height, tx_idx, event_idx"),
    ("state_changes", (("height", "INTEGER"), ("key", "TEXT"), ("namespace", "TEXT"),
                       ("value", "BLOB"), ("value_json", "TEXT"), ("deleted", "INTEGER"),
                       ("entity", "TEXT"), ("tender_id", "TEXT")), "height, key"),
)
INDEXES = (
    "CREATE INDEX IF NOT EXISTS blocks_time ON blocks(time_ms)",
    "CREATE INDEX IF NOT EXISTS tx_height ON transactions(height, idx)",
    "CREATE INDEX IF NOT EXISTS tx_entity ON transactions(sender_entity, height)",
    "CREATE INDEX IF NOT EXISTS tx_tender ON transactions(tender_id, height)",
    "CREATE INDEX IF NOT EXISTS tx_call ON transactions(call, height)",
    "CREATE INDEX IF NOT EXISTS tx_sender ON transactions(sender, height)",
    "CREATE INDEX IF NOT EXISTS ev_type ON events(type, height)",
    "CREATE INDEX IF NOT EXISTS ev_tender ON events(tender_id, height)",
    "CREATE INDEX IF NOT EXISTS ev_uscc ON events(uscc, height)",
    "CREATE INDEX IF NOT EXISTS ev_tx ON events(tx_id)",
    "CREATE INDEX IF NOT EXISTS sc_key ON state_changes(key, height)",
    "CREATE INDEX IF NOT EXISTS sc_entity ON state_changes(entity, height)",
    "CREATE INDEX IF NOT EXISTS sc_tender ON state_changes(tender_id, height)",
)
# Not in ``TABLES``: bookkeeping for ``check_whole``, not history (the Parquet mirror leaves
# it out).
ROW_COUNTS_DDL = ("CREATE TABLE IF NOT EXISTS row_counts (height INTEGER PRIMARY KEY, "
                  "events INTEGER NOT NULL, state_changes INTEGER NOT NULL)")
_USCC_LEN = 18
# Byte strings longer than this (sealed summaries, 4 KiB) are left out of the JSON columns:
# as hex they would double the export; the CE columns (value, raw) hold them.
JSON_BIN_MAX = 256


def ddl() -> list[str]:
    out = ["CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"]
    for table, columns, key in TABLES:
        cols = ", ".join(f"{name} {kind}" for name, kind in columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({key}))")
    return [*out, ROW_COUNTS_DDL, *INDEXES]


def _shorten(value: Any) -> Any:
    """``value`` with every byte string longer than ``JSON_BIN_MAX`` replaced by its length
    (the CE column beside the JSON one keeps every byte)."""
    if type(value) is bytes and len(value) > JSON_BIN_MAX:
        return {"$bin_omitted": len(value)}
    if type(value) in (list, tuple):
        return [_shorten(v) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value


def _json(value: Any) -> str | None:
    try:
        return json.dumps(jsonform.tagged_to_json(_shorten(value)), ensure_ascii=False,
                          sort_keys=True)
    except (InvalidInput, RecursionError):
        return None  # a value with no JSON form: its CE bytes are in the row


def subject_of(key: str, value: Any) -> tuple[str | None, str | None]:
    """``(entity USCC, tender id)`` a state record is about, from its key and value."""
    parts = key.split("/")
    record = value if isinstance(value, dict) else {}

    def text(name: str) -> str | None:
        got = record.get(name)
        return got if isinstance(got, str) and got else None

    ns = parts[0]
    if ns == "id" and len(parts) >= 3 and parts[1] in ("entity", "history"):
        return parts[2], None
    if ns == "id" and len(parts) == 3 and parts[1] == "key":
        return text("uscc"), None
    if ns in ("consent", "frozen") and len(parts) >= 2 and len(parts[1]) == _USCC_LEN:
        return parts[1], None
    if ns == "credit" and len(parts) == 3:
        return (parts[2], None) if parts[1] == "entity" else (text("uscc"), None)
    if ns == "guarantee":
        return text("principal"), text("tender_id")
    if ns in ("bid", "bidset", "objector") and len(parts) >= 2:
        return text("uscc"), parts[1]
    if ns == "tender" and len(parts) >= 2:  # an objection names no one: see ``objector/``
        if len(parts) == 4 and parts[2] == "collusion":
            return parts[3], parts[1]
        return None, parts[1]
    return None, None


@dataclass(frozen=True)
class Tip:
    height: int
    hash: bytes
    state_root: bytes


class Export:
    """An export database, open for appending blocks (``record``) or for reading."""

    def __init__(self, path: Path, doc: GenesisDoc) -> None:
        self.path = path
        self.doc = doc
        self.suite: Suite = doc.crypto
        fresh = not path.exists()
        if not fresh and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # an export made wider before: it holds bid secrets
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            for statement in ddl():
                self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"{path} is not a credchain export: {exc}") from None
        self.rows = 0  # rows written since the last ``take_rows``
        self._key_entity: dict[str, str | None] = {}
        if fresh or self.meta("schema_version") is None:
            self._start()
        self._check_identity()
        check_whole(self.db, path)
        if self.meta("schema_version") == "1":  # count the rows of the blocks from now on
            self.db.execute("BEGIN")
            self._set_meta({"schema_version": SCHEMA_VERSION,
                            "counted_from": self.tip().height + 1})
            self.db.execute("COMMIT")

    # ---- identity and tip ------------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, values: Mapping[str, Any]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    def _check_identity(self) -> None:
        from ledger.genesis import default_state, genesis_block

        if self.meta("schema_version") not in READABLE_VERSIONS:
            raise InvalidInput(f"{self.path} has export schema {self.meta('schema_version')}, "
                               f"this credchain reads schemas {' and '.join(READABLE_VERSIONS)}")
        genesis = genesis_block(self.doc, default_state(self.doc)).hash(self.suite).hex()
        if self.meta("chain_id") != self.doc.chain_id or self.meta("genesis_hash") != genesis:
            raise InvalidInput(f"{self.path} is an export of another chain "
                               f"({self.meta('chain_id')}, genesis {self.meta('genesis_hash')})")

    def tip(self) -> Tip:
        return Tip(int(self.meta("tip_height") or 0), bytes.fromhex(self.meta("tip_hash") or ""),
                   bytes.fromhex(self.meta("tip_state_root") or ""))

    def _start(self) -> None:
        """A new export: meta, the genesis block and the genesis state at height 0."""
        from ledger.genesis import default_state, genesis_block

        state = default_state(self.doc)
        block = genesis_block(self.doc, state)
        self.db.execute("BEGIN")
        self._block_row(block.header, 0, 0, 0, None)
        self._row_counts(0, 0, self._state_rows(0, state))
        self._set_meta({"schema_version": SCHEMA_VERSION, "chain_id": self.doc.chain_id,
                        "suite": self.suite.name, "counted_from": 0,
                        "genesis_hash": block.hash(self.suite).hex(), "tip_height": 0,
                        "tip_hash": block.hash(self.suite).hex(),
                        "tip_state_root": block.header.state_root.hex()})
        self.db.execute("COMMIT")

    # ---- writing ----------------------------------------------------------------------------

    def take_rows(self) -> int:
        rows, self.rows = self.rows, 0
        return rows

    def record(self, c: Committing) -> None:
        """One checked block (``contracts.audit`` ``before_commit`` hook), in one
        transaction; a height already held is checked by hash and skipped."""
        header = c.block.header
        block_hash = header.hash(self.suite)
        tip = self.tip()
        if header.height <= tip.height:
            row = self.db.execute("SELECT hash FROM blocks WHERE height = ?",
                                  (header.height,)).fetchone()
            if row is None:  # rows deleted since ``check_whole``: not another chain
                raise InvalidInput(f"the export {self.path} is damaged or incomplete: it "
                                   f"lacks block {header.height} of 0..{tip.height}")
            if bytes(row[0]) != block_hash:
                raise InvalidInput(f"block {header.height} of the chain is not the one the "
                                   f"export {self.path} holds: it follows another chain")
            return
        if header.height != tip.height + 1:
            raise InvalidInput(f"the export ends at height {tip.height}; block "
                               f"{header.height} does not follow it")
        self.db.execute("BEGIN")
        try:
            senders = self._entities_before(c)
            changes = self._state_rows(header.height, c.writes)
            failed = sum(1 for r in c.receipts if not r.ok)
            self._block_row(header, len(c.block.txs), failed, len(c.qc.votes), c.qc.encode())
            self._row_counts(header.height, self._tx_rows(c, senders), changes)
            self._set_meta({"tip_height": header.height, "tip_hash": block_hash.hex(),
                            "tip_state_root": header.state_root.hex()})
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._key_entity.clear()  # it may hold this block's bindings
            raise

    def _block_row(self, h: Header, txs: int, failed: int, votes: int, qc: bytes | None) -> None:
        self.db.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (h.height, h.hash(self.suite), h.prev_hash, h.time_ms, beijing_time(h.time_ms),
             h.view, h.proposer, txs, failed, h.state_root, h.tx_root, h.receipts_root,
             h.validators_hash, h.next_validators_hash, votes, qc))
        self.rows += 1

    def _row_counts(self, height: int, events: int, state_changes: int) -> None:
        self.db.execute("INSERT INTO row_counts VALUES (?, ?, ?)",
                        (height, events, state_changes))

    def _previous_entity(self, key: str) -> str | None:
        row = self.db.execute("SELECT entity FROM state_changes WHERE key = ? "
                              "ORDER BY height DESC LIMIT 1", (key,)).fetchone()
        return None if row is None else row[0]

    def _state_rows(self, height: int, writes: Mapping[str, bytes | None]) -> int:
        rows = []
        for key in sorted(writes):
            raw = writes[key]
            value = None if raw is None else encoding.decode_trusted(raw)
            entity, tender = subject_of(key, value)
            if raw is None and entity is None:
                entity = self._previous_entity(key)  # a deletion is about what it deleted
            if key.startswith("id/key/"):
                self._key_entity[key] = None if raw is None else entity
            rows.append((height, key, key.split("/", 1)[0], raw,
                         None if value is None else _json(value), int(raw is None), entity,
                         tender))
        self.db.executemany("INSERT INTO state_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.rows += len(rows)
        return len(rows)

    def _entity_of_key(self, key: str) -> str | None:
        if key not in self._key_entity:
            row = self.db.execute("SELECT entity, deleted FROM state_changes WHERE key = ? "
                                  "ORDER BY height DESC LIMIT 1", (key,)).fetchone()
            self._key_entity[key] = None if row is None or row[1] else row[0]
        return self._key_entity[key]

    def _entities_before(self, c: Committing) -> dict[bytes, str | None]:
        """The entity each acting key was bound to when the block ran (else after it)."""
        out: dict[bytes, str | None] = {}
        for tx in c.block.txs:
            key = acting_key(tx)
            if key not in out:
                out[key] = self._entity_of_key(f"id/key/{key.hex()}")
        return out

    def _tx_rows(self, c: Committing, before: Mapping[bytes, str | None]) -> int:
        """The block's transactions and events; returns how many events."""
        height = c.block.header.height
        txs, events = [], []
        for idx, (tx, receipt) in enumerate(zip(c.block.txs, c.receipts, strict=True)):
            body, key = tx.body, acting_key(tx)
            entity = before[key] or self._entity_of_key(f"id/key/{key.hex()}")
            tender = body.args.get("tender_id")
            tender = tender if isinstance(tender, str) else None
            contract, _, method = body.call.partition(".")
            tx_id = receipt.tx_id
            txs.append((tx_id, height, idx, body.sender, entity, body.nonce, body.call,
                        contract, method, _json(body.args), tender, receipt.code,
                        receipt.message, int(receipt.ok), tx.encode()))
            for n, event in enumerate(receipt.events):
                ev_tender = event.get("tender_id")
                uscc = event.get("uscc")
                events.append((height, idx, n, tx_id, str(event.get("type", "")), _json(event),
                               ev_tender if isinstance(ev_tender, str) else tender,
                               uscc if isinstance(uscc, str) else None))
        self.db.executemany("INSERT INTO transactions VALUES "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", txs)
        self.db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
        self.rows += len(txs) + len(events)
        return len(events)

    # ---- reading ----------------------------------------------------------------------------

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            yield from self.db.execute(sql, args)
        finally:
            self.db.row_factory = None

    def close(self) -> None:
        self.db.close()


def open_reader(path: Path) -> sqlite3.Connection:
    """An export for reading only (``history --db``), checked to be one, and whole."""
    if not path.exists():
        raise InvalidInput(f"no export at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path} is not a credchain export: {exc}") from None
    if row is None or row[0] not in READABLE_VERSIONS:
        db.close()
        raise InvalidInput(f"{path} is not a credchain export of schema "
                           f"{' or '.join(READABLE_VERSIONS)}")
    try:
        check_whole(db, path)
    except InvalidInput:
        db.close()
        raise
    db.row_factory = sqlite3.Row
    return db


# The totals first (one pass over each table, no join): a file that adds up costs no more.
# Only one that does not is asked which block, by a count per block over the indexes.
_TX_TOTALS = "SELECT (SELECT SUM(tx_count) FROM blocks), (SELECT COUNT(*) FROM transactions)"
_TX_MISMATCH = (
    "SELECT height, tx_count, held FROM (SELECT b.height, b.tx_count, (SELECT COUNT(*) "
    "FROM transactions t WHERE t.height = b.height) AS held FROM blocks b) "
    "WHERE held IS NOT tx_count ORDER BY height LIMIT 1")
_ROWS_TOTALS = (
    "SELECT (SELECT COUNT(*) FROM row_counts WHERE height >= :from), "
    "(SELECT COALESCE(SUM(events), 0) FROM row_counts WHERE height >= :from), "
    "(SELECT COUNT(*) FROM events WHERE height >= :from), "
    "(SELECT COALESCE(SUM(state_changes), 0) FROM row_counts WHERE height >= :from), "
    "(SELECT COUNT(*) FROM state_changes WHERE height >= :from)")
_ROWS_MISMATCH = (
    "SELECT height, events, held_events, state_changes, held_changes FROM (SELECT b.height, "
    "c.events, (SELECT COUNT(*) FROM events e WHERE e.height = b.height) AS held_events, "
    "c.state_changes, (SELECT COUNT(*) FROM state_changes s WHERE s.height = b.height) "
    "AS held_changes FROM blocks b LEFT JOIN row_counts c ON c.height = b.height "
    "WHERE b.height >= :from) WHERE events IS NULL OR held_events IS NOT events "
    "OR held_changes IS NOT state_changes ORDER BY height LIMIT 1")


def check_whole(db: sqlite3.Connection, path: Path) -> None:
    """Refuse an export whose rows do not add up, in one line: a resumed export would
    append to it and a history would answer from it, both as if it were whole. About 1 ms
    per 1,000 blocks. One read transaction, so that an export appending to the file
    meanwhile is not taken for damage."""
    try:
        db.execute("BEGIN")
        try:
            damage = _damage(db)
        finally:
            db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:  # a table dropped, a column of the wrong kind
        damage = f"it cannot be read whole ({exc})"
    if damage is not None:
        raise InvalidInput(f"the export {path} is damaged or incomplete: {damage}")


def _height(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _damage(db: sqlite3.Connection) -> str | None:
    """What is missing from the export (the first such block), or None."""
    meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    tip = _height(meta.get("tip_height"))
    if tip is None:
        return "it records no tip height"
    gap = _missing_blocks(db, tip)
    if gap is not None:
        return gap
    want, held = db.execute(_TX_TOTALS).fetchone()
    if want != held:
        row = db.execute(_TX_MISMATCH).fetchone()
        return (f"its blocks hold {want} transaction(s), the file has {held}" if row is None
                else f"block {row[0]} holds {row[1]} transaction(s), the file has {row[2]}")
    if meta.get("schema_version") == "1":
        return None  # written before row_counts: its events and state changes are not counted
    counted_from = _height(meta.get("counted_from"))
    if counted_from is None:
        return "it records no counted_from height"
    counted, events, held_events, changes, held_changes = db.execute(
        _ROWS_TOTALS, {"from": counted_from}).fetchone()
    if (counted, events, changes) == (max(0, tip + 1 - counted_from), held_events,
                                      held_changes):
        return None
    return _rows_mismatch(db, counted_from)


def _missing_blocks(db: sqlite3.Connection, tip: int) -> str | None:
    """Which heights from 0 to the tip have no block (the first run of them), or None."""
    low, high, count = db.execute("SELECT MIN(height), MAX(height), COUNT(*) FROM blocks"
                                  ).fetchone()
    if high is not None and high > tip:
        return f"it holds blocks past its recorded tip {tip}"
    if (low, count) == (0, tip + 1):
        return None
    first = 0 if low != 0 else db.execute(
        "SELECT b.height + 1 FROM blocks b WHERE NOT EXISTS (SELECT 1 FROM blocks n "
        "WHERE n.height = b.height + 1) ORDER BY b.height LIMIT 1").fetchone()[0]
    after = db.execute("SELECT MIN(height) FROM blocks WHERE height > ?", (first,)).fetchone()[0]
    last = tip if after is None else after - 1
    lacks = f"block {first}" if first == last else f"blocks {first}..{last}"
    return f"it lacks {lacks} of 0..{tip}"


def _rows_mismatch(db: sqlite3.Connection, counted_from: int) -> str:
    row = db.execute(_ROWS_MISMATCH, {"from": counted_from}).fetchone()
    if row is None:  # every block adds up: rows or counts past the tip
        return "its events and state changes are not those its blocks wrote"
    height, events, held_events, changes, held_changes = row
    if events is None:
        return f"block {height} has no row counts"
    if held_events != events:
        return f"block {height} wrote {events} event(s), the file has {held_events}"
    return f"block {height} wrote {changes} state change(s), the file has {held_changes}"

"""``credchain audit export``: the chain's history in SQLite, for queries with no server.

The export is a by-product of a full audit replay (``shell.auditrun``): every block is
checked (signatures, roots, QC) and re-executed before it is written, and the state changes
are the very writes its re-execution committed. One SQLite file, schema version 1:

- ``meta`` (name, value): schema_version, chain_id, suite, genesis_hash, tip_height,
  tip_hash, tip_state_root.
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

Hashes, ids, keys and CE values are BLOBs; times are Unix ms (UTC) with a Beijing-time text
column beside them where a person reads them.
JSON columns follow ``ledger.jsonform``'s tagged convention (bytes as ``{"$bin": hex}``),
except that a byte string longer than ``JSON_BIN_MAX`` (256) bytes — a sealed summary — is
shown as ``{"$bin_omitted": length}``: the CE columns (``value``, ``raw``) hold every byte.
Height 0 holds the genesis block and the genesis state as state changes, so the state at
any height is the last change of each key at or below it. Indexes serve the questions the
``history`` commands ask: by entity, by tender, by key, by call, by event type, by time.

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

SCHEMA_VERSION = 1

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
_USCC_LEN = 18
# Byte strings longer than this (sealed summaries, 4 KiB) are left out of the JSON columns:
# as hex they would double the export; the CE columns (value, raw) hold them.
JSON_BIN_MAX = 256


def ddl() -> list[str]:
    out = ["CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"]
    for table, columns, key in TABLES:
        cols = ", ".join(f"{name} {kind}" for name, kind in columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({key}))")
    return [*out, *INDEXES]


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

    # ---- identity and tip ------------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, values: Mapping[str, Any]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    def _check_identity(self) -> None:
        from ledger.genesis import default_state, genesis_block

        if self.meta("schema_version") != str(SCHEMA_VERSION):
            raise InvalidInput(f"{self.path} has export schema {self.meta('schema_version')}, "
                               f"this credchain writes {SCHEMA_VERSION}")
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
        self._state_rows(0, state)
        self._set_meta({"schema_version": SCHEMA_VERSION, "chain_id": self.doc.chain_id,
                        "suite": self.suite.name,
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
            if row is None or bytes(row[0]) != block_hash:
                raise InvalidInput(f"block {header.height} of the chain is not the one the "
                                   f"export {self.path} holds: it follows another chain")
            return
        if header.height != tip.height + 1:
            raise InvalidInput(f"the export ends at height {tip.height}; block "
                               f"{header.height} does not follow it")
        self.db.execute("BEGIN")
        try:
            senders = self._entities_before(c)
            self._state_rows(header.height, c.writes)
            failed = sum(1 for r in c.receipts if not r.ok)
            self._block_row(header, len(c.block.txs), failed, len(c.qc.votes), c.qc.encode())
            self._tx_rows(c, senders)
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

    def _previous_entity(self, key: str) -> str | None:
        row = self.db.execute("SELECT entity FROM state_changes WHERE key = ? "
                              "ORDER BY height DESC LIMIT 1", (key,)).fetchone()
        return None if row is None else row[0]

    def _state_rows(self, height: int, writes: Mapping[str, bytes | None]) -> None:
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

    def _tx_rows(self, c: Committing, before: Mapping[bytes, str | None]) -> None:
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
    """An export for reading only (``history --db``), checked to be one."""
    if not path.exists():
        raise InvalidInput(f"no export at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path} is not a credchain export: {exc}") from None
    if row is None or row[0] != str(SCHEMA_VERSION):
        raise InvalidInput(f"{path} is not a credchain export of schema {SCHEMA_VERSION}")
    db.row_factory = sqlite3.Row
    return db


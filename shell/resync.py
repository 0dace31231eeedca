"""``credchain node resync``: set a store aside and start a new one that the node fills
again from its peers: the recovery for a damaged store, and the way to move a node onto a
recent snapshot (``--state-sync``) when its history is no longer wanted.

The old store (``data_dir/db``) is renamed ``db.old-<UTC time>`` (nothing is deleted: an
operator may want it for a post-mortem, or delete it once the node runs again), a new store
is created from the genesis file, and this validator's own consensus records (its round
record, prepared certificate and owner record: ``consensus.durable``) are carried over when
the old store can still be read. With them, the replica knows the height up to which it may
have voted and only votes above it (``Replica.vote_floor``) while it fetches the chain
again; without them the new store is marked "votes lost" and the node follows without voting
until an operator confirms (``node start --confirm-lost-votes``). Every fetched block's QC
is verified and the block re-executed before it is applied, so the rebuilt store trusts no
peer.

With ``--state-sync`` the new store is filled from the peers' snapshot of a recent certified
height instead (``shell.statesync``: the height's header certified from the genesis anchor,
every piece of its state checked against that header's state root), with the same records
carried over; block sync then goes on from that height. When no peer offers a usable
snapshot it says so and the new store starts from genesis as without the option.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from consensus import durable
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc
from ledger.schema import CONSENSUS
from shell.chain import Chain
from shell.config import NodeConfig
from shell.statesync import SyncReport, sync_new_store


@dataclass(frozen=True)
class Resynced:
    old: Path
    fresh: Path
    records_kept: bool
    state_synced: SyncReport | None = None


def resync(config: NodeConfig, state_sync: bool = False) -> Resynced:
    from ledger.keyfile import load_chain_key
    from ledger.kv import LevelKV

    db = config.data_dir / "db"
    if not (db / "CURRENT").exists():
        raise InvalidInput(f"{db} holds no store; the node creates one when it starts")
    records = _readable_records(db)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    old = db.with_name(f"db.old-{stamp}")
    doc = GenesisDoc.load(config.genesis_file)
    secret = (load_chain_key(config.key_file, config.passphrase(), doc.suite).secret
              if state_sync else b"")
    db.rename(old)
    if state_sync:
        kept = records or {durable.VOTES_LOST_KEY: b"\x01"}
        report = sync_new_store(config, doc, secret, lambda manifest: kept)
        if report is not None:
            return Resynced(old, db, bool(records), report)
    kv = LevelKV(str(db))
    try:
        chain = Chain.open(kv, doc, config.pool)
        if records:
            chain.persist(sorted(records.items()))
        else:
            chain.persist([(durable.VOTES_LOST_KEY, b"\x01")])
    finally:
        kv.close()
    return Resynced(old, db, bool(records))


def _readable_records(db: Path) -> dict[bytes, bytes]:
    """This validator's consensus records from the old store, or {} when it can't be read.
    A store that is still open (its node running) is refused: stop the node first."""
    from ledger.kv import LevelKV

    try:
        kv = LevelKV(str(db), create=False)
    except Exception as exc:  # plyvel raises its own IOError; a held lock says "lock"
        if "lock" in str(exc).lower():
            raise InvalidInput(f"{db} is in use: stop the node before resyncing it") from None
        return {}
    try:
        return dict(kv.scan(CONSENSUS))
    except Exception:  # a damaged store may fail anywhere; its records are then lost
        return {}
    finally:
        kv.close()

"""The bidder's side over a node: the sealed-bid file, and proving a sealed bid to anyone.

``prove_bid`` fetches two PROTOCOL §7 bundles from any node — the bid's state key at the
height of the bid transaction, and the tender record (its deadline) at the head — writes
them to files, then checks them *offline*, from the files and the genesis anchor alone: both
certified, the proven commitment is the bidder's own, its block came before the deadline.
The sealed-bid file written by ``credchain bid seal`` holds the content key (mode 0600).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput
from shell.client import NodeClient, NodeError

SEALED_FIELDS = ("tender_id", "lot", "uscc", "content_key", "commitment")


def load_sealed(path: str | Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal`: "
                           f"{exc}") from None
    missing = [f for f in SEALED_FIELDS if f not in record]
    if missing:
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal` "
                           f"(no {missing})")
    return record


@dataclass(frozen=True)
class BidProof:
    checks: dict[str, bool]
    key: str
    height: int
    block_ms: int
    deadline_ms: int
    bid_bundle: Path
    tender_bundle: Path

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def prove_bid(client: NodeClient, anchor_path: Path, tender_id: str, lot: int, uscc: str,
              commitment: bytes, bid_tx_id: str, out: Path) -> BidProof:
    from contracts.scenario import bid_slot
    from contracts.tender import bid_key, tender_key
    from ledger import encoding
    from ledger.bundle import from_json, verify_bundle
    from ledger.genesis import Anchor

    anchor = Anchor.load(anchor_path)
    where = client.tx_status(bid_tx_id)
    if where.get("status") != "committed":
        raise InvalidInput(f"the bid transaction {bid_tx_id} is not committed "
                           f"({where.get('status')})")
    height = int(where["height"])
    slot = bid_slot(anchor.suite, anchor.header.chain_id, tender_id, lot, uscc)
    key = bid_key(tender_id, lot, slot.hex())

    def fetch(state_key: str, at: int | None, path: Path) -> Any:
        try:
            bundle = client.proof(state_key, at)
        except NodeError as exc:
            raise InvalidInput(f"the node refused the proof of {state_key}: "
                               f"{exc.reason}") from None
        path.write_text(json.dumps(bundle, indent=2) + "\n")
        # Offline from here on: only the bundle file and the anchor file.
        record = verify_bundle(from_json(json.loads(path.read_text())), anchor)
        if record.value is None:
            raise InvalidInput(f"the bundle proves {state_key} absent")
        return record

    bid_record = fetch(key, height, out)
    tender_path = out.with_name(out.stem + ".tender.json")
    tender_record = fetch(tender_key(tender_id), None, tender_path)
    bid = encoding.decode(bid_record.value)
    deadline_ms = int(encoding.decode(tender_record.value)["deadline_ms"])
    block_ms = bid_record.header.time_ms
    checks = {
        "both bundles verify against the genesis anchor (QC chain, state proofs)": True,
        "the proven commitment is the bidder's own": bid["commitment"] == commitment,
        "the block holding it is before the tender's deadline": block_ms < deadline_ms,
    }
    return BidProof(checks, key, height, block_ms, deadline_ms, out, tender_path)

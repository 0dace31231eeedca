"""``credchain demo``: the trading story over a running network's HTTP API.

``HttpScenarioClient`` is ``contracts.scenario.ScenarioClient`` over a node's API (``submit``
waits until the transaction is committed; "now" is the head block's time).
``run_demo_story`` runs the story on one node, then proves the winner's sealed bid from
another node and verifies it offline against the genesis anchor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.crypto import get_suite
from ledger.errors import InvalidInput
from ledger.tx import Receipt, SignedTx
from shell.bidding import prove_bid
from shell.client import NodeClient


class HttpScenarioClient:
    """The story's client reads as the story's supervisor (a demo key): it needs the nonces
    of the story's enterprises, which the node shows only to their keys and supervisors."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        from contracts.scenario import actor_secret

        status = NodeClient(url).status()
        self.chain_id: str = status["chain_id"]
        self.suite = get_suite(status["suite"])
        self.node = NodeClient(url).as_key(self.suite, actor_secret(self.suite, "supervisor"))
        self.timeout_s = timeout_s

    def submit(self, signed: SignedTx) -> Receipt:
        return self.node.send(signed, self.timeout_s).receipt

    def now_ms(self) -> int:
        return self.node.head_time_ms()

    def wait_until(self, t_ms: int) -> None:
        """Wait for a block at or after ``t_ms`` (leaders propose empty blocks when idle)."""
        while self.now_ms() < t_ms:
            time.sleep(0.2)

    def nonce_of(self, pubkey: bytes) -> int:
        return self.node.nonce(pubkey)


def run_demo_story(urls: list[str], anchor_path: Path, out: Path,
                   echo: Callable[[str], None]) -> None:
    from contracts.scenario import ENTITIES, run_scenario
    from contracts.scenario_kit import actor_secret, demo_uscc

    client = HttpScenarioClient(urls[0])
    summary = run_scenario(client, echo)
    echo("-- the winner proves its sealed bid to anyone, from another node --")
    winner = next(n for n, (serial, _) in ENTITIES.items()
                  if demo_uscc(serial) == summary["winner"])
    bidder = NodeClient(urls[-1]).as_key(client.suite, actor_secret(client.suite, winner))
    proof = prove_bid(NodeClient(urls[-1]), anchor_path, summary["tender_id"], 1,
                      summary["winner"], summary["winner_commitment"],
                      summary["winner_bid_tx"].hex(), out / "winner-bid.bundle.json",
                      bidder=bidder)
    for text, ok in proof.checks.items():
        echo(f"   [{'ok' if ok else 'FAILED'}] {text}")
    echo(f"   bid bundle: {proof.bid_bundle} (key {proof.key}, height {proof.height}); "
         f"tender bundle: {proof.tender_bundle}")
    echo(f"   check it yourself: credchain verify {proof.bid_bundle} --anchor {anchor_path}")
    if not proof.ok:
        raise InvalidInput("the winner's commitment could not be proved")
    saved = save_supervisor_key(out, client.suite)
    if saved is not None:
        echo(f"   the story's supervisor key, to audit as a supervisor (credchain audit replay "
             f"--key {saved} --passphrase-file {out / 'passphrase'}): {saved}")
    echo("== the trading story ran end to end on the network ==")


def save_supervisor_key(out: Path, suite: Any) -> Path | None:
    """Write the story's supervisor key (a demo key) beside the network, encrypted with the
    network's passphrase: an auditor's replay needs whole blocks, which nodes show to
    supervisors only. None when ``out`` holds no network passphrase."""
    from contracts.scenario_kit import actor_secret
    from ledger.keyfile import read_passphrase_file, save_key

    phrase = out / "passphrase"
    target = out / "supervisor.key"
    if not phrase.is_file():
        return None
    if not target.exists():
        save_key(target, suite, actor_secret(suite, "supervisor"), read_passphrase_file(phrase))
    return target

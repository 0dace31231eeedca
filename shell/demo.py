"""``credchain demo``: the trading story over a running network's HTTP API.

``HttpScenarioClient`` is ``contracts.scenario.ScenarioClient`` over a node's API (``submit``
waits until the transaction is committed; "now" is the head block's time).
``run_demo_story`` runs the story on one node, then proves the winner's sealed bid from
another node and verifies it offline against the genesis anchor, and returns the story's
summary. ``portal_lines`` say where a person clicks through what happened (the disclosure
portal every node serves under ``/portal/``) and which anchor file to load there;
``keep_running`` waits for Ctrl-C (or SIGTERM) so the network stays up meanwhile.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote

from contracts.periods import shown
from contracts.scenario_kit import ScenarioError
from ledger.crypto import get_suite
from ledger.errors import InvalidInput
from ledger.tx import Receipt, SignedTx
from shell.bidding import prove_bid
from shell.client import NodeClient

# The longest idle-block interval the story runs on: its waits are a few demo "days" (2 s).
DEMO_HEARTBEAT_MAX_MS = 5_000


class HttpScenarioClient:
    """The story's client reads as the story's supervisor (a demo key): it needs the nonces
    of the story's enterprises, which the node shows only to their keys and supervisors."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        from contracts.scenario import actor_secret

        status = NodeClient(url).status()
        heartbeat_ms = int(status.get("heartbeat_ms") or 0)
        if not 0 < heartbeat_ms <= DEMO_HEARTBEAT_MAX_MS:
            # The story waits for deadlines a few demo "days" away; an idle chain's clock
            # moves only with its blocks (user walks: it stalled five minutes at each wait).
            raise ScenarioError(
                f"this chain writes an idle block every {heartbeat_ms / 1000:g} s (its "
                f"heartbeat_ms), and the story waits for its clock: run it on a chain of "
                f"`credchain network init --demo` (1 s), or vote heartbeat_ms down to at "
                f"most {DEMO_HEARTBEAT_MAX_MS} ms")
        self.chain_id: str = status["chain_id"]
        self.suite = get_suite(status["suite"])
        self.node = NodeClient(url).as_key(self.suite, actor_secret(self.suite, "supervisor"))
        self.timeout_s = timeout_s

    def submit(self, signed: SignedTx) -> Receipt:
        return self.node.send(signed, self.timeout_s).receipt

    def now_ms(self) -> int:
        return self.node.head_time_ms()

    def wait_until(self, t_ms: int) -> None:
        """Wait for a block at or after ``t_ms`` (leaders propose empty blocks when idle);
        ScenarioError when the chain's clock stands still for ``timeout_s``."""
        last, since = self.now_ms(), time.monotonic()
        while last < t_ms:
            time.sleep(0.2)
            now = self.now_ms()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > self.timeout_s:
                raise ScenarioError(f"no block for {self.timeout_s:g} s: the chain's clock "
                                    f"stands at {shown(last)}, the story waits for "
                                    f"{shown(t_ms)} (is a quorum of validators running?)")

    def nonce_of(self, pubkey: bytes) -> int:
        return self.node.nonce(pubkey)


def run_demo_story(urls: list[str], anchor_path: Path, out: Path,
                   echo: Callable[[str], None]) -> dict[str, Any]:
    from contracts.scenario import ENTITIES, run_scenario
    from contracts.scenario_kit import actor_secret, demo_uscc

    client = HttpScenarioClient(urls[0])
    summary = run_scenario(client, echo)
    echo("-- the winner proves its sealed bid to anyone, from another node --")
    winner = next(n for n, (serial, _) in ENTITIES.items()
                  if demo_uscc(serial) == summary["winner"])
    bidder = NodeClient(urls[-1]).as_key(client.suite, actor_secret(client.suite, winner))
    proof = prove_bid(NodeClient(urls[-1]), anchor_path, summary["tender_id"], 1,
                      summary["winner_slot"],
                      summary["winner_commitment"],
                      summary["winner_bid_tx"].hex(), out / "winner-bid.bundle.json",
                      bidder=bidder)
    for line in proof.lines():
        echo(line)
    echo(f"   bid bundle: {proof.bid_bundle} (key {proof.key}, height {proof.height}); "
         f"tender bundle: {proof.tender_bundle}; inclusion bundle of the bid transaction "
         f"(it names the bidder secret: mode 0600): {proof.inclusion_bundle}")
    echo(f"   check it yourself, as the third party the winner shows these files to: "
         f"credchain bid check-proof {proof.bid_bundle} --anchor {anchor_path} --commitment "
         f"{summary['winner_commitment'].hex()}")
    if not proof.ok:
        raise InvalidInput("the winner's commitment could not be proved")
    watch_tender(urls[-1], anchor_path, summary["tender_id"], echo)
    saved = save_supervisor_key(out, client.suite)
    if saved is not None:
        echo(f"   the story's supervisor key, to audit as a supervisor (credchain audit replay "
             f"--key {saved} --passphrase-file {out / 'passphrase'}): {saved}")
    echo("== the trading story ran end to end on the network ==")
    return summary


DEMO_REMINDERS = "10s,2s"  # a demo "day" is 2 s: 3 days and 1 hour would come before the tender


def watch_tender(url: str, anchor_path: Path, tender_id: str,
                 echo: Callable[[str], None]) -> int:
    """What a bidder following the tender saw pushed to it (``credchain watch``), from the
    chain's start up to the head, each item checked against the anchor: the notices in
    order, in Beijing time. Returns the number of items."""
    import asyncio

    from ledger.genesis import Anchor
    from shell.commands.watch import Watch

    echo(f"-- a bidder's notices: credchain watch --url {url} --tender {tender_id} "
         f"--from-height 1 --remind {DEMO_REMINDERS} --verify --anchor {anchor_path} "
         "--until-head --")
    job = Watch([url], {"tender": [tender_id], "from_height": ["1"],
                        "remind": [DEMO_REMINDERS], "heartbeat_ms": ["1000"]},
                "", None, None, False, None, until_head=True)
    job.anchor = Anchor.load(anchor_path)
    job.echo = lambda line: echo("   " + line)
    asyncio.run(job.run())
    echo(f"   {job.handled} items, each checked against its proof and the anchor")
    return job.handled


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


PORTAL_PATH = "/portal/"


def portal_lines(url: str, anchor_path: Path, summary: dict[str, Any] | None) -> list[str]:
    """Where to look at the chain in a browser: the portal, the story's tender and winner."""
    base = url.rstrip("/") + PORTAL_PATH
    lines = [f"== the disclosure portal (公开信息门户): {base} ==",
             f"   trust anchor to load there (页面“信任锚”): {anchor_path}"]
    if summary is not None:
        lines += [f"   the story's tender: {base}tender/{quote(summary['tender_id'], safe='')}",
                  f"   its winner: {base}entity/{quote(summary['winner'], safe='')}",
                  f"   a claimed guarantee (验真): {base}guarantee?number="
                  f"{quote(summary['claimed'], safe='')}"]
    return lines


def keep_running(echo: Callable[[str], None], poll_s: float = 0.5,
                 exited: Callable[[], list[tuple[int, int | None, str]]] = list) -> None:
    """Block until Ctrl-C or SIGTERM (both end as KeyboardInterrupt, caught here), so the
    caller's ``finally`` stops the network. ``exited`` lists the validators that have exited
    as ``(index, exit code, its config file)``: each is said once, and the others run on
    (an operator may be trying a restart)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    echo("== the network keeps running; press Ctrl-C to stop it ==")
    said: set[int] = set()
    try:
        while True:
            time.sleep(poll_s)
            for i, code, config in exited():
                if i not in said:
                    said.add(i)
                    echo(f"== validator {i} exited (code {code}); the others keep running. "
                         f"Start it again with: credchain node start --config {config} ==")
    except KeyboardInterrupt:
        echo("== stopping ==")
    finally:
        signal.signal(signal.SIGTERM, previous)

"""``credchain bid``: the bidder's side: seal, reveal, prove."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from shell.client import NodeClient
from shell.commands.common import fail, key_options, load_key, url_option


@click.group()
def bid() -> None:
    """The bidder's side: seal and submit a bid, reveal its key at opening, prove it."""


@bid.command("seal")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key bound to the bidder's attestation")
@key_options
@click.option("--tender", "tender_id", required=True)
@click.option("--lot", default=1, show_default=True, type=click.IntRange(1))
@click.option("--uscc", required=True, help="the bidder's unified social credit code")
@click.option("--file", "bid_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="the (encrypted) bid file as uploaded to the platform")
@click.option("--price-fen", required=True, type=click.IntRange(0))
@click.option("--guarantee", default="", help="the electronic guarantee's number")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="where to keep the sealed bid (holds the content key: mode 0600)")
def bid_seal(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
             tender_id: str, lot: int, uscc: str, bid_file: str, price_fen: int,
             guarantee: str, out: str) -> None:
    """Seal a bid (content key, encrypted summary, file hash, commitment) and submit it."""
    from contracts.bidder import seal_bid

    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)  # it reads its own nonce and receipt
    chain_id = client.status()["chain_id"]
    sealed = seal_bid(suite, chain_id, tender_id, lot, uscc, Path(bid_file).read_bytes(),
                      price_fen)
    record = {"chain_id": chain_id, "tender_id": tender_id, "lot": lot, "uscc": uscc,
              "content_key": sealed.content_key.hex(), "file_hash": sealed.file_hash.hex(),
              "sealed_summary": sealed.sealed_summary.hex(),
              "commitment": sealed.commitment.hex(), "summary": sealed.summary.hex(),
              "guarantee": guarantee}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:  # before submitting: the key must never be lost
        json.dump(record, f, indent=2)
    done = client.send(client.sign(suite, secret, "bid.submit",
                                   sealed.submit_args(guarantee)))
    if done.receipt.code != "OK":
        fail(f"bid refused: {done.receipt.code} {done.receipt.message}")
    record["tx_id"], record["height"] = done.tx_id, done.height
    Path(out).write_text(json.dumps(record, indent=2))
    click.echo(f"sealed bid committed at height {done.height} (tx {done.tx_id}); "
               f"commitment {sealed.commitment.hex()}; keep {out} until the opening")


@bid.command("reveal")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@key_options
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
def bid_reveal(url: str, key_file: str, passphrase_env: str | None,
               passphrase_file: str | None, sealed_path: str) -> None:
    """Reveal the content key in the decryption window; the contract decrypts on chain."""
    from ledger import jsonform
    from shell.bidding import load_sealed

    record = load_sealed(sealed_path)
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    args = {"tender_id": record["tender_id"], "lot": int(record["lot"]),
            "content_key": bytes.fromhex(record["content_key"])}
    client = NodeClient(url).as_key(suite, secret)
    receipt = client.send(client.sign(suite, secret, "bid.reveal", args)).receipt
    shown = jsonform.to_json(receipt.to_obj(), jsonform.RECEIPT)
    click.echo(json.dumps({"code": shown["code"], "events": shown.get("events", [])},
                          indent=2))
    if receipt.code != "OK":
        fail(f"reveal refused: {receipt.code} {receipt.message}")


@bid.command("prove")
@url_option
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def bid_prove(url: str, sealed_path: str, anchor_path: str, out: str) -> None:
    """Prove the sealed bid's commitment was on chain before the deadline (after it)."""
    from shell.bidding import load_sealed, prove_bid

    record = load_sealed(sealed_path)
    if "tx_id" not in record:
        fail(f"{sealed_path} has no committed bid transaction")
    result = prove_bid(NodeClient(url), Path(anchor_path), record["tender_id"],
                       int(record["lot"]), record["uscc"], bytes.fromhex(record["commitment"]),
                       record["tx_id"], Path(out))
    for text, ok in result.checks.items():
        click.echo(f"   [{'ok' if ok else 'FAILED'}] {text}")
    click.echo(f"   bid bundle: {result.bid_bundle} (key {result.key}, height {result.height},"
               f" block time {result.block_ms}, deadline {result.deadline_ms}); tender bundle:"
               f" {result.tender_bundle}")
    click.echo(f"   check it yourself: credchain verify {out} --anchor {anchor_path}")
    if not result.ok:
        fail("the commitment could not be proved")

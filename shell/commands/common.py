"""What every command shares: the one-line failure, passphrases and keys, common options."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

DEFAULT_URL = "http://127.0.0.1:26651"
SUITES = click.Choice(["ed25519-sha256", "sm2-sm3"])


class HttpUrl(click.types.StringParamType):
    """A node's (or a webhook's) address: ``http://`` or ``https://``, a host, a valid port.
    Anything else is refused at once with the reason, before a request is tried."""

    name = "URL"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        except ValueError as exc:
            self.fail(f"{value!r} is not a URL: {exc}", param, ctx)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{value!r} is not an http:// or https:// address with a host "
                      f"(e.g. {DEFAULT_URL})", param, ctx)
        return value


HTTP_URL = HttpUrl()


class OutFile(click.Path):
    """A file to write: not a directory, in a directory that exists (checked before any
    work is done, so a long fetch does not end in a traceback)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        value = super().convert(value, param, ctx)
        parent = Path(value).parent
        if not parent.is_dir():
            self.fail(f"{value!r}: no directory {str(parent)!r} to write it in", param, ctx)
        return value


OUT_FILE = OutFile()


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def hex_arg(text: str, flag: str, length: int | None = None) -> bytes:
    """The bytes an option gives in hex (``length`` of them, when it says), or a one-line
    refusal naming the option."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = None
    if value is None or (length is not None and len(value) != length):
        fail(f"{flag} is not hex" if length is None else
             f"{flag} must be {2 * length} hex digits (a {length}-byte hash)")
    return value


def passphrase(env: str | None, file: str | None, confirm: bool = False) -> bytes:
    """From ``env`` or ``file`` (``shell.config.read_passphrase``), else asked for."""
    from shell.config import read_passphrase

    if env or file:
        return read_passphrase(env, file)
    text: str = click.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return text.encode()


def load_key(key_file: str, env: str | None, file: str | None) -> tuple[Any, bytes]:
    """``(suite, secret)`` from an encrypted key file."""
    from ledger.errors import InvalidInput
    from ledger.keyfile import load_key as load

    try:
        key = load(Path(key_file), passphrase(env, file))
    except InvalidInput as exc:  # name the file: a command may read two keys
        fail(f"{key_file}: {exc}")
    return key.suite, key.secret


def url_option(f: Any) -> Any:
    return click.option("--url", default=DEFAULT_URL, show_default=True, type=HTTP_URL,
                        help="a node's HTTP API")(f)


def key_options(f: Any) -> Any:
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False),
                     help="read the key's passphrase from this file (mode 0600)")(f)
    f = click.option("--passphrase-env",
                     help="read the key's passphrase from this environment variable")(f)
    return f


def committed_json(done: Any, time_ms: int) -> dict[str, Any]:
    """A committed transaction (``shell.client.Committed``) as ``--json`` prints it."""
    from ledger import jsonform
    from ledger.verdict import beijing_time

    return {"tx_id": done.tx_id, "status": "committed", "height": done.height,
            "index": done.index, "time_ms": time_ms, "time": beijing_time(time_ms),
            "receipt": jsonform.to_json(done.receipt.to_obj(), jsonform.RECEIPT)}


def committed_text(done: Any, call: str, time_ms: int) -> str:
    """A committed transaction as text: where, when, its receipt and its events."""
    import json

    from ledger.verdict import beijing_time

    receipt = done.receipt
    lines = [f"transaction {done.tx_id} ({call})",
             f"  committed in block {done.height} (index {done.index}) at "
             f"{beijing_time(time_ms)}",
             f"  receipt {receipt.code}" + (f": {receipt.message}" if receipt.message else "")]
    lines += ["  event " + json.dumps(event, ensure_ascii=False, sort_keys=True)
              for event in committed_json(done, time_ms)["receipt"].get("events", [])]
    return "\n".join(lines)


def fail_receipt(done: Any) -> NoReturn:
    """Exit 1 for a committed transaction whose receipt is not OK."""
    receipt = done.receipt
    fail(f"transaction failed: {receipt.code}: {receipt.message} (committed in block "
         f"{done.height}; a failed transaction changes nothing but, at most, its sender's "
         "nonce)")

"""What every command shares: the one-line failure, passphrases and keys, common options."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

DEFAULT_URL = "http://127.0.0.1:26651"
SUITES = click.Choice(["ed25519-sha256", "sm2-sm3"])


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def passphrase(env: str | None, file: str | None, confirm: bool = False) -> bytes:
    """From ``env`` or ``file`` (``shell.config.read_passphrase``), else asked for."""
    from shell.config import read_passphrase

    if env or file:
        return read_passphrase(env, file)
    text: str = click.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return text.encode()


def load_key(key_file: str, env: str | None, file: str | None) -> tuple[Any, bytes]:
    """``(suite, secret)`` from an encrypted key file."""
    from ledger.keyfile import load_key as load

    key = load(Path(key_file), passphrase(env, file))
    return key.suite, key.secret


def url_option(f: Any) -> Any:
    return click.option("--url", default=DEFAULT_URL, show_default=True,
                        help="a node's HTTP API")(f)


def key_options(f: Any) -> Any:
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False),
                     help="read the key's passphrase from this file (mode 0600)")(f)
    f = click.option("--passphrase-env",
                     help="read the key's passphrase from this environment variable")(f)
    return f

"""``credchain keys``: key files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shell.commands.common import DEFAULT_URL, HTTP_URL, SUITES, fail, key_options, passphrase


@click.group()
def keys() -> None:
    """Key files."""


@keys.command("new")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--suite", default="ed25519-sha256", show_default=True, type=SUITES)
@key_options
def keys_new(out: str, suite: str, passphrase_env: str | None,
             passphrase_file: str | None) -> None:
    """Create a key pair in the encrypted key file OUT."""
    from ledger import keyfile
    from ledger.crypto import get_suite

    if Path(out).exists():
        fail(f"{out} exists; refusing to overwrite a key file")
    s = get_suite(suite)
    secret = s.generate_secret()
    keyfile.save_key(Path(out), s, secret, passphrase(passphrase_env, passphrase_file, True))
    click.echo(json.dumps({"file": out, "suite": suite, "pubkey": s.public_key(secret).hex()}))


@keys.command("show")
@click.argument("key_file", type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True,
              help="decrypt the file with its passphrase: the key is whole and yours")
@key_options
def keys_show(key_file: str, check: bool, passphrase_env: str | None,
              passphrase_file: str | None) -> None:
    """Print the suite and public key of KEY_FILE (what a governance proposal, an
    attestation or a peers file needs), as JSON. Without --check they are read as the file
    states them; with it the file is decrypted, which proves both."""
    from ledger import keyfile

    if check:
        pair = keyfile.load_key(Path(key_file), passphrase(passphrase_env, passphrase_file))
        suite, public = pair.suite.name, pair.public_key
    else:
        suite, public = keyfile.read_public(Path(key_file))
    click.echo(json.dumps({"file": key_file, "suite": suite, "pubkey": public.hex(),
                           "checked": check}))


@keys.command("sign-rotation")
@click.argument("key_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--old", required=True, help="the validator's current public key (hex)")
@click.option("--url", "url", type=HTTP_URL, default=DEFAULT_URL, show_default=True,
              help="a node of the chain (for its chain id)")
@key_options
def keys_sign_rotation(key_file: str, old: str, url: str, passphrase_env: str | None,
                       passphrase_file: str | None) -> None:
    """The new key's consent to a validator's key rotation, signed where the key is kept
    (the city's own machine): print the --new-pubkey and --new-sig a committee member gives
    `gov propose rotate-validator` (no one else needs the key or its passphrase)."""
    from shell.commands.gov import chain_suite, rotation

    payload = rotation(url, chain_suite(url), old, key_file, passphrase_env, passphrase_file)
    click.echo(f"--old {old} --new-pubkey {payload['new'].hex()} "
               f"--new-sig {payload['new_sig'].hex()}")

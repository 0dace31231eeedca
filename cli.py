"""The ``credchain`` command line: the root group; the commands are in ``shell.commands``.

Bad input gives a one-line message on stderr and a non-zero exit, never a traceback: the
root group turns the project's expected errors into such messages.
"""

from __future__ import annotations

from typing import Any

import click

from ledger.errors import CorruptStore, InvalidInput
from shell.client import NodeError
from shell.commands import audit, bid, chain, committee, demo, gov, history, keys, network, watch
from shell.commands.tender import tender
from shell.terminal import guarded_output


class _Group(click.Group):
    """The root group: expected errors become one-line messages (exit 1), not tracebacks;
    what a command prints goes through ``shell.terminal`` (text from the chain never
    commands the terminal)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with guarded_output():
            return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (InvalidInput, NodeError) as exc:
            raise click.ClickException(str(exc)) from None
        except LookupError as exc:
            raise click.ClickException(f"not found: {exc}") from None
        except CorruptStore as exc:  # a --data directory read directly, damaged on disk
            raise click.ClickException(
                f"the store is damaged: {exc}. Read another node's copy (--url), or rebuild "
                "this one (credchain node resync)") from None
        except RecursionError:  # a JSON document nested past the parser's recursion
            raise click.ClickException("an input (a file, an option or a node's answer) is "
                                       "nested too deeply to read") from None


@click.group(cls=_Group)
@click.version_option(package_name="credchain", prog_name="credchain")
def main() -> None:
    """credchain: a permissioned PBFT chain for public-resource-trading credentials."""


for command in (keys.keys, network.network, network.node_group,
                chain.status, chain.tx, chain.state, chain.proof, chain.verify, chain.eligibility,
                demo.demo, bid.bid, tender,
                audit.audit, gov.gov, history.history, watch.watch, committee.committee):
    main.add_command(command)


if __name__ == "__main__":
    main()

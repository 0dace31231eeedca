"""The node's entry point: ``python node.py CONFIG`` (or ``credchain node start --config``).

Everything the node does lives in the ``shell`` package (``shell/__init__.py`` lists its
modules); ``shell.server.main`` runs one node until SIGTERM/SIGINT and returns the exit code.
"""

from __future__ import annotations

import sys

from shell.server import main

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python node.py CONFIG.toml")
    sys.exit(main(sys.argv[1]))

"""``python -m ledger.vectorgen [--taken DIR] [--out DIR]``: regenerate ``ledger/vectors``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.vectorgen import OWN_DIR, SHARED_DIR, write
from ledger.vectorgen.taken import Taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taken", type=Path, default=SHARED_DIR,
                        help="shared vector files to take underivable inputs from")
    parser.add_argument("--out", type=Path, default=OWN_DIR, help="where to write")
    args = parser.parse_args()
    for path in write(args.out, Taken(args.taken)):
        print(path)


if __name__ == "__main__":
    main()

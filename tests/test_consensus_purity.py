"""``consensus/`` is sans-IO: no clock, randomness, sockets, threads, event loop or disk."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CONSENSUS = Path(__file__).resolve().parents[1] / "consensus"
FORBIDDEN = {
    "asyncio", "aiohttp", "plyvel", "time", "random", "socket", "threading", "datetime",
    "secrets", "multiprocessing", "concurrent", "subprocess", "selectors",
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("__import__")
    return roots


def test_no_module_in_consensus_imports_io_time_or_randomness() -> None:
    files = sorted(CONSENSUS.glob("*.py"))
    assert len(files) >= 8, "the consensus package is where this test expects it"
    offenders = {f.name: sorted(_imported_roots(f) & (FORBIDDEN | {"__import__"}))
                 for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom time import monotonic\nimport asyncio.tasks\n")
    assert _imported_roots(bad) & FORBIDDEN == {"time", "asyncio"}


def test_importing_the_replica_loads_no_network_or_storage_module() -> None:
    code = ("import sys, consensus.replica, consensus.messages\n"
            "print(','.join(m for m in ('asyncio', 'aiohttp', 'plyvel', 'socket')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=CONSENSUS.parent, timeout=60)
    assert out.stdout.strip() == ""

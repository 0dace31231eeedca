"""The style checks of STYLE.md run with the tests, so CI fails when they would: `ruff check`
and `mypy` (strict, as configured in pyproject.toml) over the whole repository.

Both come with the test extras. Each runs as its own process from the repository root; a
finding fails the test and prints the tool's own report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "--no-cache", ".", timeout=120)
    assert done.returncode == 0, f"ruff check:\n{done.stdout}{done.stderr}"


def test_mypy_strict_finds_nothing(tmp_path: Path) -> None:
    # A cache of its own: a stale .mypy_cache of the checkout cannot hide a finding.
    done = _run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"), ".", timeout=600)
    assert done.returncode == 0, f"mypy:\n{done.stdout}{done.stderr}"
    assert "Success: no issues found" in done.stdout, done.stdout

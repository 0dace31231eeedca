"""A copy of a validator's own ``db/`` restored from a backup lacks the votes of the runs
since; the run count kept in the store and beside it (``shell.runs``) finds it, so the node
abstains until the operator confirms. (The operator walk restored such a backup and the node
voted at once.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import durable
from ledger.kv import MemoryKV
from shell.runs import RUN_FILE, check_run


def _copy(kv: MemoryKV) -> MemoryKV:
    out = MemoryKV()
    batch = out.batch()
    for key, value in kv.scan(b""):
        batch.put(key, value)
    out.write(batch)
    return out


def test_a_restored_copy_of_the_store_is_found_until_confirmed(tmp_path: Path) -> None:
    kv = MemoryKV()
    assert check_run(tmp_path, kv, confirm=False) is None  # a new directory: run 1
    assert check_run(tmp_path, kv, confirm=False) is None  # restarted on the same store
    assert (tmp_path / RUN_FILE).read_text() == "2\n" and kv.get(durable.RUN_KEY) == b"2"
    backup = _copy(kv)  # the operator backs up db/ (node stopped)
    assert check_run(tmp_path, kv, confirm=False) is None  # run 3: the node votes on
    problem = check_run(tmp_path, backup, confirm=False)  # ... then restores the backup
    assert problem is not None and "run 2 of the node" in problem and "in run 3" in problem
    assert check_run(tmp_path, backup, confirm=False) == problem  # every start says so
    assert check_run(tmp_path, backup, confirm=True) is None  # the operator confirms
    assert (tmp_path / RUN_FILE).read_text() == "4\n" and backup.get(durable.RUN_KEY) == b"4"
    assert check_run(tmp_path, backup, confirm=False) is None


def test_a_new_store_in_a_directory_that_ran_before_is_found_too(tmp_path: Path) -> None:
    """db/ deleted and made again (from genesis or a snapshot): it has no votes either."""
    check_run(tmp_path, MemoryKV(), confirm=False)
    problem = check_run(tmp_path, MemoryKV(), confirm=False)
    assert problem is not None and "last used in run ?" in problem


def test_a_store_from_before_the_count_starts_it(tmp_path: Path) -> None:
    kv = MemoryKV()
    batch = kv.batch()
    batch.put(b"other", b"x")
    kv.write(batch)
    assert check_run(tmp_path, kv, confirm=False) is None
    assert kv.get(durable.RUN_KEY) == b"1"


def test_an_unreadable_run_file_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / RUN_FILE).write_text("not a number\n")
    assert "is unreadable" in str(check_run(tmp_path, MemoryKV(), confirm=False))
    assert check_run(tmp_path, MemoryKV(), confirm=True) is None  # confirmed: written again
    assert (tmp_path / RUN_FILE).read_text() == "1\n"



def test_a_store_restored_into_a_new_directory_is_found(tmp_path: Path) -> None:
    """The usual restore after a lost disk: db/ from a backup, in a new data directory with
    no run file (operator walk: the node voted at once)."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    kv = MemoryKV()
    assert check_run(old, kv, confirm=False) is None
    problem = check_run(new, _copy(kv), confirm=False)
    assert problem is not None and "restored into a new directory" in problem
    assert check_run(new, _copy(kv), confirm=True) is None


def test_a_run_file_it_cannot_write_fails_before_the_store_counts(tmp_path: Path) -> None:
    """Operator walk: with the data directory read-only the store had counted the run when
    writing the run file failed, and the next start took it for a restored backup and did
    not vote. (A directory in the temporary file's place fails the write for any user.)"""
    kv = MemoryKV()
    assert check_run(tmp_path, kv, confirm=False) is None
    (tmp_path / (RUN_FILE + ".tmp")).mkdir()
    with pytest.raises(IsADirectoryError):
        check_run(tmp_path, kv, confirm=False)
    (tmp_path / (RUN_FILE + ".tmp")).rmdir()
    assert kv.get(durable.RUN_KEY) == b"1" and (tmp_path / RUN_FILE).read_text() == "1\n"
    assert check_run(tmp_path, kv, confirm=False) is None  # the next start: no restore seen

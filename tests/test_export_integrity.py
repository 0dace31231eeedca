"""An export whose rows do not add up is refused in one line (exit 1), both by a resumed
``audit export`` and by ``history --db`` (``shell.export.check_whole``). A user walk found
rows deleted by hand unseen: the export resumed ("exported heights 854..885"), a tender's
timeline came back with lines missing, and blocks deleted at the top read as another chain.
A whole export still resumes and answers as before, and one of schema 1 is still read."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.storechain import story_in_data_dir
from tests.test_audit_tools import _dump, cli

PART = 70  # the export made before the damage ends here; the chain goes on past it


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The trading story in a stopped node's data directory, an export of it to ``PART``
    (with its replay state), a whole one, and a block ``at`` of the tender with events and
    state changes, where the damage is done."""
    root = tmp_path_factory.mktemp("chain")
    client, kv, summary = story_in_data_dir(root)
    head = client.store.head()[0]
    kv.close()
    assert head > PART + 5
    source = ["--genesis", str(root / "genesis.json"), "--anchor", str(root / "anchor.json"),
              "--data", str(root / "data")]
    part, whole = root / "part" / "chain.sqlite", root / "whole.sqlite"
    part.parent.mkdir()
    assert cli("audit", "export", *source, "--out", str(part), "--to-height",
               str(PART)).exit_code == 0
    assert cli("audit", "export", *source, "--out", str(whole)).exit_code == 0
    tender = summary["tender_id"]
    db = sqlite3.connect(part)
    heights = [row[0] for row in db.execute(
        "SELECT t.height FROM transactions t WHERE t.tender_id = ? AND EXISTS (SELECT 1 FROM "
        "events e WHERE e.height = t.height) AND EXISTS (SELECT 1 FROM state_changes s WHERE "
        "s.height = t.height) ORDER BY t.height", (tender,))]
    db.close()
    return {"source": source, "part": part, "whole": whole, "head": head, "tender": tender,
            "uscc": summary["uscc"]["e"], "at": heights[len(heights) // 2]}


def _copy(chain: dict[str, Any], tmp_path: Path, replay_state: bool = True) -> Path:
    """The export to ``PART`` under a new name, with its replay state unless told not to
    (then the resumed replay starts from genesis and meets every held block again)."""
    out = tmp_path / "t3.sqlite"
    shutil.copy(chain["part"], out)
    if replay_state:
        shutil.copytree(chain["part"].with_name("chain.sqlite.replay"),
                        tmp_path / "t3.sqlite.replay")
    return out


def _count(db: sqlite3.Connection, table: str, height: int) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE height = ?",
                          (height,)).fetchone()[0])


# Each damage is done with SQL on an open export and returns the reason the refusal gives.
def _transactions_and_events(db: sqlite3.Connection, at: int) -> str:
    held = _count(db, "transactions", at)
    db.executescript(f"DELETE FROM transactions WHERE height >= {at}; "
                     f"DELETE FROM events WHERE height >= {at};")
    return f"block {at} holds {held} transaction(s), the file has 0"


def _events(db: sqlite3.Connection, at: int) -> str:
    held = _count(db, "events", at)
    db.execute("DELETE FROM events WHERE height = ?", (at,))
    return f"block {at} wrote {held} event(s), the file has 0"


def _state_changes(db: sqlite3.Connection, at: int) -> str:
    held = _count(db, "state_changes", at)
    db.execute("DELETE FROM state_changes WHERE height = ? AND key = "
               "(SELECT MIN(key) FROM state_changes WHERE height = ?)", (at, at))
    return f"block {at} wrote {held} state change(s), the file has {held - 1}"


def _blocks_in_the_middle(db: sqlite3.Connection, at: int) -> str:
    db.execute("DELETE FROM blocks WHERE height BETWEEN ? AND ?", (at, at + 2))
    return f"it lacks blocks {at}..{at + 2} of 0..{PART}"


def _blocks_at_the_top(db: sqlite3.Connection, at: int) -> str:
    db.execute("DELETE FROM blocks WHERE height > ?", (PART - 5,))
    return f"it lacks blocks {PART - 4}..{PART} of 0..{PART}"


DAMAGES = [_transactions_and_events, _events, _state_changes, _blocks_in_the_middle,
           _blocks_at_the_top]
Damage = Callable[[sqlite3.Connection, int], str]


def _damage(out: Path, damage: Damage, at: int) -> str:
    """The refusal's line for ``out`` once ``damage`` is done to it."""
    db = sqlite3.connect(out, isolation_level=None)
    try:
        reason = damage(db, at)
    finally:
        db.close()
    return f"Error: the export {out} is damaged or incomplete: {reason}"


def _tip(out: Path) -> str:
    db = sqlite3.connect(out)
    try:
        return str(db.execute("SELECT value FROM meta WHERE name = 'tip_height'").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("replay_state", [True, False], ids=["replay-state", "no-replay-state"])
@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__.strip("_"))
def test_a_damaged_export_is_not_resumed(chain: dict[str, Any], tmp_path: Path,
                                         damage: Damage, replay_state: bool) -> None:
    """Refused before anything is appended, and blocks missing at the top are named as
    missing, not as another chain."""
    out = _copy(chain, tmp_path, replay_state)
    refusal = _damage(out, damage, chain["at"])
    got = cli("audit", "export", *chain["source"], "--out", str(out))
    assert got.exit_code == 1 and got.output.splitlines() == [refusal], got.output
    assert _tip(out) == str(PART)


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__.strip("_"))
def test_a_history_refuses_a_damaged_export(chain: dict[str, Any], tmp_path: Path,
                                            damage: Damage) -> None:
    """Read as it is (``--db``) or brought up to date first (with the chain named)."""
    out = _copy(chain, tmp_path)
    refusal = _damage(out, damage, chain["at"])
    for question in (["tender", chain["tender"]], ["entity", chain["uscc"]]):
        got = cli("history", *question, "--db", str(out))
        assert got.exit_code == 1 and got.output.splitlines() == [refusal], got.output
    got = cli("history", "tender", chain["tender"], "--db", str(out), *chain["source"])
    assert got.exit_code == 1 and got.output.splitlines() == [refusal], got.output


def _answers(out: Path, chain: dict[str, Any]) -> list[str]:
    answers = []
    for question in (["tender", chain["tender"]], ["entity", chain["uscc"]]):
        got = cli("history", *question, "--db", str(out))
        assert got.exit_code == 0, got.output
        answers.append(got.output)
    return answers


def test_a_whole_export_resumes_and_answers_as_before(chain: dict[str, Any],
                                                      tmp_path: Path) -> None:
    out = _copy(chain, tmp_path)
    got = cli("audit", "export", *chain["source"], "--out", str(out))
    assert got.exit_code == 0, got.output
    assert f"exported heights {PART + 1}..{chain['head']} " in got.output, got.output
    assert _dump(out) == _dump(chain["whole"])
    db = sqlite3.connect(out)
    counted = db.execute("SELECT COUNT(*), MIN(height), MAX(height) FROM row_counts").fetchone()
    db.close()
    assert counted == (chain["head"] + 1, 0, chain["head"])  # every block, resumed ones too
    assert _answers(out, chain) == _answers(chain["whole"], chain)
    got = cli("history", "tender", chain["tender"], *chain["source"])  # from the chain itself
    assert got.exit_code == 0 and got.stdout == _answers(out, chain)[0]


def _as_schema_1(out: Path) -> None:
    """``out`` as this credchain wrote it before ``row_counts``."""
    db = sqlite3.connect(out, isolation_level=None)
    try:
        db.executescript("DROP TABLE IF EXISTS row_counts; "
                         "DELETE FROM meta WHERE name = 'counted_from'; "
                         "UPDATE meta SET value = '1' WHERE name = 'schema_version';")
    finally:
        db.close()


def _meta(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out)
    try:
        return dict(db.execute("SELECT name, value FROM meta").fetchall())
    finally:
        db.close()


def test_an_export_of_schema_1_is_read_checked_and_resumed(chain: dict[str, Any],
                                                           tmp_path: Path) -> None:
    """Its transactions are checked (``tx_count`` was there already); resumed, it becomes
    schema 2 and the blocks it gains have their events and state changes counted."""
    (tmp_path / "v2").mkdir()
    answers = _answers(_copy(chain, tmp_path / "v2"), chain)
    out = _copy(chain, tmp_path)
    _as_schema_1(out)
    assert _answers(out, chain) == answers
    damaged = tmp_path / "damaged.sqlite"
    shutil.copy(out, damaged)
    refusal = _damage(damaged, _transactions_and_events, chain["at"])
    got = cli("history", "tender", chain["tender"], "--db", str(damaged))
    assert got.exit_code == 1 and got.output.splitlines() == [refusal], got.output
    got = cli("audit", "export", *chain["source"], "--out", str(out))
    assert got.exit_code == 0 and f"exported heights {PART + 1}.." in got.output, got.output
    meta = _meta(out)
    assert (meta["schema_version"], meta["counted_from"]) == ("2", str(PART + 1))
    assert _dump(out) == _dump(chain["whole"])
    assert _answers(out, chain) == _answers(chain["whole"], chain)
    db = sqlite3.connect(out)
    later = db.execute("SELECT MIN(height) FROM events WHERE height > ?", (PART,)).fetchone()[0]
    db.close()
    refusal = _damage(out, _events, later)
    got = cli("history", "tender", chain["tender"], "--db", str(out))
    assert got.exit_code == 1 and got.output.splitlines() == [refusal], got.output

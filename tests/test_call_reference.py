"""``contracts/CALLS.md``, the one reference of every contract call, is generated from the
code and can't drift from it: it covers every registered call, it is byte for byte what the
generator writes now, the handlers' docstrings agree with what the code reads and requires,
every code the code can raise on a call's path is listed for that call, and every refusal
and argument actually seen while the contracts run (the trading story on a real store, and
the whole contract test suite) is in it.

When a test here fails after a change to the contracts, regenerate the reference with
``.venv/bin/python -m contracts.reference --write`` (it refuses, saying why, while a
handler's docstring and its code disagree).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import args as A
from contracts import callwalk, reference
from contracts.errors import ContractError
from contracts.identity import require_entity_sender
from contracts.registry import default_executor
from contracts.runtime import Call
from tests.call_observer import Observed, observing
from tests.storechain import StoreChainClient

ROOT = Path(__file__).resolve().parent.parent
FIX = f"regenerate it: {reference.REGENERATE}"
# the files whose transactions the slow cross-check observes: every contract test, and the
# other tests that drive the contracts in-process (not the ones starting node processes)
SUITE = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_contracts_*.py")) + [
    "tests/test_eligibility.py",
    "tests/test_scenario.py",
    "tests/test_runtime.py",
    "tests/test_privacy.py",
    "tests/test_api_answers.py",
]


def _committed() -> str:
    return reference.CALLS_MD.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """Call → its section of the reference (from its ``### call`` heading to the next)."""
    out: dict[str, str] = {}
    for part in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = part.partition("\n")
        out[heading.strip()] = body.split("\n## ")[0]
    return out


def _listed_codes(section: str) -> set[str]:
    return set(re.findall(r"^- `(E_[A-Z0-9_]+)` —", section, flags=re.MULTILINE))


def _listed_args(section: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_every_registered_call_has_its_section_in_the_reference() -> None:
    calls = set(default_executor().calls())
    sections = set(_sections(_committed()))
    assert calls - sections == set(), f"calls missing from contracts/CALLS.md: {FIX}"
    assert sections - calls == set(), f"contracts/CALLS.md documents calls that are gone: {FIX}"


def test_the_committed_reference_is_exactly_what_the_generator_writes() -> None:
    generated = reference.render()
    committed = _committed()
    if committed != generated:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(keepends=True), generated.splitlines(keepends=True),
            "contracts/CALLS.md (committed)", "generated now"))[:60])
        pytest.fail(f"contracts/CALLS.md is stale: {FIX}\n{diff}")


def test_handler_docstrings_agree_with_the_code() -> None:
    problems = reference.problems()
    assert problems == [], "\n".join(problems)


def test_every_code_on_a_calls_path_is_listed_for_that_call() -> None:
    sections = _sections(_committed())
    missing = []
    for entry in reference.entries():
        listed = _listed_codes(sections.get(entry.call, ""))
        missing += [f"{entry.call}: {code}" for code in sorted(entry.facts.codes - listed)]
    assert missing == [], f"codes the code can raise but CALLS.md omits ({FIX}): {missing}"


def test_every_argument_a_call_reads_is_listed_for_that_call() -> None:
    sections = _sections(_committed())
    missing = []
    for entry in reference.entries():
        listed = _listed_args(sections.get(entry.call, ""))
        read = {r.name for r in entry.facts.reads}
        missing += [f"{entry.call}: {name}" for name in sorted(read - listed)]
    assert missing == [], f"arguments read but not in CALLS.md ({FIX}): {missing}"


def test_every_contract_error_in_the_package_is_on_some_calls_path() -> None:
    """A refusal the walk can't reach from any call would be missing from every call's list
    (a path through a value the walk does not follow); none may exist."""
    assert reference.unreached(reference.entries()) == []


def test_every_code_has_a_meaning_and_every_defined_code_is_returned_by_something() -> None:
    meanings = reference.code_meanings()
    returned = set(reference.RUNTIME_CODES)
    for entry in reference.entries():
        returned |= entry.facts.codes
    assert all(any(c for _, c in found) for found in meanings.values())
    assert sorted(set(meanings) - returned) == [], "codes defined but returned by no call"


# --- the walk itself sees what it claims to ---

E_PROBE = "E_PROBE"


def _probe(call: Call) -> None:
    """A handler written only to be walked."""
    uscc = require_entity_sender(call)
    call.require_role("supervisor")
    n = A.integer(call.args, "n", 1, 9)
    if call.args.get("flag"):
        raise ContractError(E_PROBE, f"{uscc} sent {n}")
    call.emit("probe.done", n=n)


def _computed_code(call: Call) -> None:
    raise ContractError("E_" + str(call.args.get("x")), "a code the walk can't know")


def test_the_walk_finds_codes_arguments_roles_and_events_through_helpers() -> None:
    facts = callwalk.walk(_probe)
    assert {"E_PROBE", "E_NOT_ATTESTED", "E_FROZEN", "E_FORBIDDEN", "E_BAD_ARGS"} <= facts.codes
    assert callwalk.Read("n", "int in [1, 9]") in facts.reads
    assert {r.name for r in facts.reads} == {"n", "flag"}
    assert facts.roles == {"supervisor"}
    assert facts.events == {"probe.done": {"n"}}
    assert "contracts.identity.require_entity_sender" in facts.reached


CHOICES = {"b": 1, "a": 2}  # a module's constant: the choices a refusal names


def _choices(call: Call) -> None:
    """A handler written only to be walked."""
    kind = call.args.get("kind")
    if kind not in CHOICES:
        raise ContractError(E_PROBE, f"kind must be one of {list(CHOICES)}, or {sorted(CHOICES)}")


def test_a_refusal_names_a_constant_s_choices_as_the_message_prints_them() -> None:
    """CALLS.md showed "price formula must be one of {list(FORMULAS)}" (user walk of
    2026-12-03): the one valid formula was only in contracts/method.py."""
    (refusal,) = [r for r in callwalk.walk(_choices).refusals if r.code == E_PROBE]
    assert refusal.message == "kind must be one of ['b', 'a'], or ['a', 'b']"


def test_the_walk_refuses_a_code_it_cannot_resolve() -> None:
    with pytest.raises(callwalk.WalkError, match="not a constant"):
        callwalk.walk(_computed_code)


# --- what the contracts do when they run is in the reference ---


def _undocumented(seen: Observed) -> list[str]:
    sections = _sections(_committed())
    out = []
    for call, code in sorted(seen.refusals):
        # calls of test-only executors are not ours; the runtime's codes come before any call
        if call not in sections or code in reference.RUNTIME_CODES:
            continue
        if code not in _listed_codes(sections[call]):
            out.append(f"{call} returned {code}")
    for call, name in sorted(seen.reads):
        if call in sections and name not in _listed_args(sections[call]):
            out.append(f"{call} read argument {name!r}")
    return out


def test_the_trading_story_refuses_and_reads_only_what_the_reference_lists() -> None:
    with observing() as seen:
        StoreChainClient().story()
    assert seen.receipts > 50 and len(seen.refusals) >= 4, "the story ran too little"
    assert _undocumented(seen) == []


@pytest.mark.slow
def test_the_contract_test_suite_refuses_and_reads_only_what_the_reference_lists(
    tmp_path: Path,
) -> None:
    out = tmp_path / "observed.json"
    env = {**os.environ, "CREDCHAIN_CALLS_OBSERVED": str(out)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "tests.call_observer", *SUITE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False,
    )
    assert run.returncode == 0, f"the observed run failed:\n{run.stdout[-3000:]}{run.stderr[-900:]}"
    seen = Observed.from_obj(json.loads(out.read_text(encoding="utf-8")))
    calls_refused = {call for call, _ in seen.refusals}
    assert len(seen.refusals) >= 100 and len(calls_refused) >= 40, "too little was observed"
    assert _undocumented(seen) == []


def test_the_runtime_s_argument_table_is_what_the_walk_reads() -> None:
    """``contracts/argnames.py`` is generated with CALLS.md: the runtime refuses any argument
    not in it, so a stale table would refuse an argument a call now reads."""
    committed = reference.ARGNAMES_PY.read_text(encoding="utf-8")
    assert committed == reference.render_argnames(), f"contracts/argnames.py is stale ({FIX})"
    from contracts import argnames

    for entry in reference.entries():
        assert argnames.ARGUMENTS[entry.call] == {r.name for r in entry.facts.reads}

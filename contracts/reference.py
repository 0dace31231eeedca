"""The contract call reference, ``contracts/CALLS.md``, generated from the code.

    python -m contracts.reference            # print the reference
    python -m contracts.reference --write    # rewrite contracts/CALLS.md and argnames.py
    python -m contracts.reference --check    # exit 1 when either is stale or a call is
                                             # undocumented (tests/test_call_reference.py)

One document covers every call the executor dispatches (``registry.CONTRACTS``, i.e.
``default_executor().calls()``). Each fact comes from the place that decides it, so the
reference follows the code rather than someone's memory of it:

- **refusal codes** and their messages, **argument names** and, where a checked reader
  reads them (``contracts.args``, ``tender_record.record_id``, ``require_uscc`` …), their **types
  and bounds**, the **roles** the sender must hold, and the **events**: read from the code by
  ``contracts.callwalk`` (the handler and every contracts function it calls, transitively);
- what the code cannot say — a summary, **who** may send the call, what each argument
  **means**, whether it is optional, the type of one read without a checked reader, and the
  outcomes — from the handler's docstring, in this fixed format::

      <summary, one or more paragraphs>

      Who: <who may send it: a role, an entity's key, an expert's key, a validator, anyone>.

      Args:
          name: what it means (continuation lines indented further).
          name (optional): ...
          name (TYPE[, optional]): ...   TYPE only when the code reads it unchecked

      <more paragraphs: outcomes, notes>

- the meaning of each code: the comment on its ``E_*`` constant;
- the header: ``HEADER`` below.

Generation refuses (``problems()``) while the docstrings and the code disagree: a call
without the format, an argument read but not documented or documented but never read, an
argument with no type or with two (declared although the code shows one), a role the code
requires that ``Who:`` does not name, ``Who:`` saying "Anyone" for a call that can refuse
its sender (or not saying it for one that can't), a code without a meaning, or a
``ContractError`` no call reaches (a path the walk cannot see).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import callwalk
from contracts.errors import E_BAD_ARGS
from contracts.registry import CONTRACTS

CALLS_MD = Path(__file__).resolve().parent / "CALLS.md"
# the arguments each call takes, as the runtime checks them (generated beside CALLS.md)
ARGNAMES_PY = CALLS_MD.parent / "argnames.py"
REGENERATE = ".venv/bin/python -m contracts.reference --write"
# codes that tell the sender it may not send this call (vs. "not now" or "not these args")
SENDER_CODES = frozenset({"E_FORBIDDEN", "E_NOT_ATTESTED", "E_NOT_MEMBER"})
ANYONE = "Anyone"
# refused before any handler runs (contracts/runtime.py)
RUNTIME_CODES = ("E_CHAIN_ID", "E_NONCE", "E_UNKNOWN_CALL")
# pure functions over the head state for the node's API and for anyone who rechecks the chain
QUERIES = (
    "contracts.exposure.exposure",
    "contracts.credit.eligibility",
    "contracts.supermarket.standing",
    "contracts.committee.draw_committee",
    "contracts.beacon.beacon_actions",
    "contracts.bidder.seal_bid",
)

HEADER = """\
# Contract calls (reference)

<!-- Generated from the code by `python -m contracts.reference --write`
(contracts/reference.py): edit the handlers' docstrings or the code, never this file.
tests/test_call_reference.py fails when the two differ. -->

Every call below is a transaction `{"call": "contract.method", "args": {...}}`
(PROTOCOL §3), signed by the sending key. Every refusal is a failed receipt with the stable
code shown and changes nothing but the sender's nonce; an outcome marked "receipt OK" is not
a refusal. Times are Unix ms (UTC; periods count Beijing days, `contracts/periods.py`),
money is integer fen, hashes are 32 bytes, keys are public keys (bytes). State keys:
`STATE_KEYS.md`. Chain parameters (`name` in backticks in a bound): `params.py`, read from
state, changeable only by a governance vote.

How each entry is made (`contracts/reference.py`): the codes, argument names, types and
bounds, roles and events are read from the code (`contracts/callwalk.py` walks the handler
and every contracts function it calls); the summary, **Who**, argument meanings and outcomes
are the handler's docstring. The walk follows every branch, so a code listed is one the
call *may* return: some need a state or arguments a given transaction never has. Each
refusal is listed with the message(s) the code gives (`{…}`: a value filled in).

Before any handler runs, the runtime refuses a transaction for another chain
(`E_CHAIN_ID`), with a nonce other than the sender's next (`E_NONCE`), or naming a call not
in this reference (`E_UNKNOWN_CALL`: e.g. the former `tender.evaluate`, whose candidates now
come only from the score sheets), and one giving an argument its call does not take
(`E_BAD_ARGS`: a misspelt optional argument would otherwise be ignored; the arguments are
those listed below, `contracts/argnames.py`). An `InvalidInput` raised while a call runs (a
malformed public key) is `E_BAD_ARGS`, and so is a call emitting more than 64 events.
"""


class DocError(ValueError):
    """A handler docstring that does not follow the format (see the module docstring)."""


@dataclass(frozen=True)
class ArgDoc:
    name: str
    declared_type: str
    optional: bool
    meaning: str


@dataclass(frozen=True)
class CallDoc:
    summary: str
    who: str
    args: tuple[ArgDoc, ...]
    notes: str


@dataclass(frozen=True)
class Entry:
    """One call: its name, handler, docstring and what the walk found."""

    call: str
    handler: Callable[..., Any]
    doc: CallDoc | None
    doc_error: str
    facts: callwalk.Facts


_ENTRY = re.compile(r"^    ([a-z_][a-z0-9_]*)(?: \(([^)]*)\))?: (.+)$")


def _paragraphs(text: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in inspect.cleandoc(text).splitlines():
        if line.strip():
            out[-1].append(line.rstrip())
        elif out[-1]:
            out.append([])
    return [p for p in out if p]


def parse_doc(text: str | None) -> CallDoc:
    if not text:
        raise DocError("no docstring")
    summary: list[str] = []
    notes: list[str] = []
    who = ""
    args: list[ArgDoc] | None = None
    for para in _paragraphs(text):
        if para[0].startswith("Who:"):
            who = " ".join(line.strip() for line in para)[len("Who:") :].strip()
        elif para[0].startswith("Args:"):
            args = _parse_args(para)
        else:
            (summary if who == "" and args is None else notes).append("\n".join(para))
    if not summary or not who or args is None:
        raise DocError("a summary, a 'Who:' paragraph and an 'Args:' block are required")
    return CallDoc("\n\n".join(summary), who, tuple(args), "\n\n".join(notes))


def _parse_args(para: list[str]) -> list[ArgDoc]:
    head = para[0][len("Args:") :].strip()
    if head:
        if head != "none." or len(para) > 1:
            raise DocError("'Args:' is followed by its entries, or is 'Args: none.'")
        return []
    entries: list[list[str]] = []
    for line in para[1:]:
        if line.startswith("        "):
            if not entries:
                raise DocError(f"continuation before any argument: {line.strip()!r}")
            entries[-1].append(line.strip())
        elif _ENTRY.match(line):
            entries.append([line])
        else:
            raise DocError(f"not an argument entry: {line!r}")
    out = []
    for lines in entries:
        match = _ENTRY.match(lines[0])
        assert match is not None
        name, paren, first = match.groups()
        words = [w.strip() for w in (paren or "").split(",")]
        optional = "optional" in words
        declared = ", ".join(w for w in words if w and w != "optional")
        out.append(ArgDoc(name, declared, optional, " ".join([first, *lines[1:]])))
    return out


# --- the model ---


def entries() -> list[Entry]:
    """Every registered call, in the registry's order."""
    out = []
    for contract in CONTRACTS:
        for method, handler in contract.methods.items():
            try:
                doc, error = parse_doc(handler.__doc__), ""
            except DocError as exc:
                doc, error = None, str(exc)
            out.append(
                Entry(f"{contract.name}.{method}", handler, doc, error, callwalk.walk(handler))
            )
    return out


def code_meanings() -> dict[str, list[tuple[str, str]]]:
    """Every ``E_*`` constant of the package → ``[(module, its comment)]``."""
    found: dict[str, list[tuple[str, str]]] = {}
    pattern = re.compile(r'^(E_[A-Z0-9_]+) = "([A-Z0-9_]+)"(?:\s*#\s*(.*))?$')
    for path in sorted(CALLS_MD.parent.glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = pattern.match(line)
            if match:
                name, value, comment = match.groups()
                if name != value:
                    raise ValueError(f"{path.name}: {name} is spelt {value!r}")
                found.setdefault(name, []).append((f"contracts/{path.name}", comment or ""))
    return found


def arg_types(entry: Entry) -> dict[str, list[str]]:
    """Argument → the types its checked readers show (empty when read unchecked only)."""
    out: dict[str, list[str]] = {}
    for read in entry.facts.reads:
        kinds = out.setdefault(read.name, [])
        if read.kind and read.kind not in kinds:
            kinds.append(read.kind)
    return {name: sorted(kinds) for name, kinds in out.items()}


def problems(all_entries: list[Entry] | None = None) -> list[str]:
    """Why the reference can't be generated as it stands (empty when it can)."""
    all_entries = entries() if all_entries is None else all_entries
    out: list[str] = []
    meanings = code_meanings()
    for entry in all_entries:
        out += [f"{entry.call}: {p}" for p in _entry_problems(entry)]
        for code in sorted(entry.facts.codes):
            if not any(comment for _, comment in meanings.get(code, [])):
                out.append(f"{entry.call}: code {code} has no meaning (comment its E_ constant)")
    for fn, site in unreached(all_entries):
        out.append(f"{site}: ContractError in {fn}, which no call reaches")
    return out


def _entry_problems(entry: Entry) -> list[str]:
    if entry.doc is None:
        return [f"docstring: {entry.doc_error} (format: contracts/reference.py)"]
    out = []
    documented = {a.name for a in entry.doc.args}
    types = arg_types(entry)
    for name in sorted(set(types) - documented):
        out.append(f"argument {name!r} is read by the code but not in 'Args:'")
    for name in sorted(documented - set(types)):
        out.append(f"argument {name!r} is in 'Args:' but the code never reads it")
    for arg in entry.doc.args:
        derived = types.get(arg.name, [])
        if derived and arg.declared_type:
            out.append(f"argument {arg.name!r}: the code shows its type ({' or '.join(derived)});"
                       " declare none")
        if arg.name in types and not derived and not arg.declared_type:
            out.append(f"argument {arg.name!r} is read unchecked: declare its type, "
                       f"'{arg.name} (TYPE): ...'")
    for role in sorted(entry.facts.roles):
        if f"`{role}`" not in entry.doc.who:
            out.append(f"'Who:' does not name the role `{role}` the code requires")
    anyone = entry.doc.who.startswith(ANYONE)
    refuses_sender = sorted(entry.facts.codes & SENDER_CODES)
    if anyone and refuses_sender:
        out.append(f"'Who:' says {ANYONE}, but the call can refuse its sender ({refuses_sender})")
    if not anyone and not refuses_sender:
        out.append(f"no sender check in the code ({sorted(SENDER_CODES)}): 'Who:' should "
                   f"start with {ANYONE!r}")
    return out


def unreached(all_entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """``(function, file:line)`` of each ``ContractError`` site no call's walk reaches."""
    reached: set[str] = set()
    for entry in all_entries:
        reached |= entry.facts.reached
    return [(fn, site) for fn, site in callwalk.contract_error_sites() if fn not in reached]


# --- rendering ---


def _md(text: str) -> str:
    """Docstring prose as markdown: RST literals become code spans."""
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def render(all_entries: list[Entry] | None = None) -> str:
    all_entries = entries() if all_entries is None else all_entries
    bad = problems(all_entries)
    if bad:
        raise DocError("the reference can't be generated:\n" + "\n".join(bad))
    parts = [HEADER, _index(all_entries)]
    by_contract: dict[str, list[Entry]] = {}
    for entry in all_entries:
        by_contract.setdefault(entry.call.split(".")[0], []).append(entry)
    for contract, group in by_contract.items():
        parts.append(_contract_section(contract, group))
    parts.append(_codes(all_entries))
    parts.append(_queries())
    return "\n".join(parts).rstrip() + "\n"


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    end = re.search(r"\.\s(?=[A-Z])", flat)  # not after "e.g."
    return flat if end is None else flat[: end.start() + 1]


def _index(all_entries: list[Entry]) -> str:
    lines = ["## Index", "", "| call | what it does |", "|---|---|"]
    for entry in all_entries:
        assert entry.doc is not None
        anchor = entry.call.replace(".", "")
        summary = _cell(_first_sentence(entry.doc.summary))
        lines.append(f"| [`{entry.call}`](#{anchor}) | {summary} |")
    return "\n".join(lines) + "\n"


def _contract_section(contract: str, group: list[Entry]) -> str:
    modules = sorted({e.handler.__module__ for e in group})
    files = ", ".join(f"`{m.replace('.', '/')}.py`" for m in modules)
    intro = _paragraphs(importlib.import_module(group[0].handler.__module__).__doc__ or "")
    lines = [f"## `{contract}.*` ({files})", ""]
    if intro:
        lines += [_md("\n".join(intro[0])), ""]
    for entry in group:
        lines.append(_call_section(entry))
    return "\n".join(lines)


def _call_section(entry: Entry) -> str:
    doc = entry.doc
    assert doc is not None
    lines = [f"### {entry.call}", "", _md(doc.summary), "", f"**Who:** {_md(doc.who)}", ""]
    types = arg_types(entry)
    if doc.args:
        lines += ["| argument | type | meaning |", "|---|---|---|"]
        for arg in doc.args:
            kind = " or ".join(types.get(arg.name) or [arg.declared_type])
            kind = f"optional; {kind}" if arg.optional else kind
            lines.append(f"| `{arg.name}` | {_cell(kind)} | {_cell(arg.meaning)} |")
        lines.append("")
    else:
        lines += ["No arguments.", ""]
    lines += ["**Refused with:**", ""]
    meanings = code_meanings()
    for code in sorted(entry.facts.codes):
        own = sorted({r.message for r in entry.facts.refusals if r.code == code and not r.generic})
        if code == E_BAD_ARGS or not own:
            text = "; ".join(c for _, c in meanings[code] if c)
            own_text = "; ".join(f'"{m}"' for m in own)
            line = f"{text}: {own_text}" if own_text else text
        else:
            line = "; ".join(f'"{m}"' for m in own)
        lines.append(f"- `{code}` — {_md(line)}")
    lines.append("")
    if entry.facts.events:
        shown = ", ".join(
            f"`{event} {{{', '.join(sorted(attrs))}}}`"
            for event, attrs in sorted(entry.facts.events.items())
        )
        lines += [f"**Events:** {shown}.", ""]
    if doc.notes:
        lines += [_md(doc.notes), ""]
    return "\n".join(lines)


def _codes(all_entries: list[Entry]) -> str:
    meanings = code_meanings()
    returned: dict[str, list[str]] = {code: [] for code in meanings}
    for entry in all_entries:
        for code in entry.facts.codes:
            returned.setdefault(code, []).append(entry.call)
    lines = [
        "## Codes",
        "",
        "Every code the contracts define, its meaning (the comment on its constant), and the",
        "calls that may return it. Codes are part of the API: never renamed. A receipt's",
        "message is hashed into its block with the code (PROTOCOL §8), so changing a message's",
        "words changes what a block commits to: every validator must run the same text, and a",
        "replay of old blocks needs the text they were made with.",
        "",
        "| code | meaning | defined in | returned by |",
        "|---|---|---|---|",
    ]
    total = len(all_entries)
    for code in sorted(returned):
        defined = meanings.get(code, [])
        meaning = "; ".join(sorted({c for _, c in defined if c}))
        where = ", ".join(sorted({f"`{m}`" for m, _ in defined}))
        calls = returned[code]
        if code in RUNTIME_CODES:
            by = "the runtime, before any handler"
        elif not calls:
            by = "no call"
        elif len(calls) == total:
            by = "every call"
        elif len(calls) > 12:
            by = f"{len(calls)} calls (see each)"
        else:
            by = ", ".join(f"`{c}`" for c in calls)
        lines.append(f"| `{code}` | {_cell(meaning)} | {where} | {by} |")
    return "\n".join(lines) + "\n"


def _queries() -> str:
    lines = [
        "## Queries (not transactions)",
        "",
        "Pure functions over a state view (`Overlay(reader)`), for the node's API and for",
        "anyone who rechecks the chain; they write nothing and are not calls.",
        "",
    ]
    for name in QUERIES:
        module_name, _, fn_name = name.rpartition(".")
        fn = getattr(importlib.import_module(module_name), fn_name)
        node = ast.parse(inspect.getsource(fn).lstrip()).body[0]
        assert isinstance(node, ast.FunctionDef)
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        signature = f"{name}({ast.unparse(node.args)}){returns}"
        doc = " ".join((inspect.getdoc(fn) or "").split())
        where = f"`{module_name.replace('.', '/')}.py`"
        lines += [f"- `{signature}`", f"  — {_md(doc)} ({where})", ""]
    return "\n".join(lines)


def render_argnames(all_entries: list[Entry] | None = None) -> str:
    """``contracts/argnames.py``: every call's argument names as the walk reads them (the
    runtime refuses any other argument, ``contracts.runtime.Executor``)."""
    all_entries = entries() if all_entries is None else all_entries
    lines = [
        '"""The arguments each contract call takes: the runtime refuses any other',
        "(``E_BAD_ARGS``), so that a misspelt optional argument is never silently ignored.",
        "",
        "Generated from the handlers (``contracts/reference.py``, beside ``CALLS.md``) by",
        f"``{REGENERATE}``: never edit it by hand.",
        "``tests/test_call_reference.py`` fails when it differs from what the code reads.",
        '"""',
        "",
        "ARGUMENTS: dict[str, frozenset[str]] = {",
    ]
    for entry in all_entries:
        names = sorted({read.name for read in entry.facts.reads})
        inner = ", ".join(f'"{n}"' for n in names)
        line = f'    "{entry.call}": frozenset({{{inner}}}),' if names else (
            f'    "{entry.call}": frozenset(),')
        if len(line) <= 99:
            lines.append(line)
            continue
        lines.append(f'    "{entry.call}": frozenset({{')
        row = "        "
        for name in names:
            piece = f'"{name}", '
            if len(row) + len(piece) > 99:
                lines.append(row.rstrip())
                row = "        "
            row += piece
        lines += [row.rstrip(), "    }),"]
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true",
                      help=f"rewrite {CALLS_MD.name} and {ARGNAMES_PY.name}")
    mode.add_argument("--check", action="store_true",
                      help=f"exit 1 when {CALLS_MD.name} or {ARGNAMES_PY.name} is stale")
    options = parser.parse_args(argv)
    try:
        all_entries = entries()
        text, names = render(all_entries), render_argnames(all_entries)
    except (DocError, callwalk.WalkError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if options.write:
        CALLS_MD.write_text(text, encoding="utf-8")
        ARGNAMES_PY.write_text(names, encoding="utf-8")
    elif options.check:
        stale = [path for path, want in ((CALLS_MD, text), (ARGNAMES_PY, names))
                 if path.read_text(encoding="utf-8") != want]
        for path in stale:
            print(f"{path} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

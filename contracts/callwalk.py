"""What a contract call can do, read from its code: the walk behind ``contracts.reference``.

``walk(handler)`` parses the handler's source (``ast``) and follows every call into a
function of the ``contracts`` package, transitively, carrying what it knows at each call
site: which parameter holds the ``Call`` (annotated ``Call``), which holds ``call.args``,
and which hold string constants (a helper called with an argument's name, ``step(call,
tender, "amend")``). It collects

- refusals: every ``ContractError(code, message)`` built on the way, the code resolved from
  its module constant and the message as written (known constants filled in); for
  ``tender_rules.require``, the lifecycle guards of the actions it is asked about (read from
  ``TRANSITIONS`` and ``GUARDS``, the table the code itself runs on); ``E_BAD_ARGS`` where a
  public key is checked by the suite (``InvalidInput``, which the runtime turns into
  ``E_BAD_ARGS``);
- argument reads of the call's own arguments: ``args[k]``, ``args.get(k)``, ``k in args``
  and the checked readers (``contracts.args``, ``tender_record.record_id``, …), whose type and
  bounds are rendered from the reader and its keyword values;
- roles the sender must hold on some path: ``call.require_role(r)``, ``call.has_role(r)``;
- events: ``call.emit(type, **attrs)``.

It is a may-analysis: every branch is followed, so a code listed for a call may need a
state or arguments that a given transaction never has. What it cannot resolve it does not
guess: a ``ContractError`` whose code is not a constant is a ``WalkError`` (except inside
the functions modelled here), and calls through values (methods of data, callbacks) are not
followed — ``tests/test_call_reference.py`` checks that every ``ContractError`` in the
package is reached from some call, and that the codes and arguments seen while the contract
tests run are all ones the walk found.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from contracts import args as A
from contracts import experts, supermarket, tender_record, tender_rules
from contracts.errors import E_BAD_ARGS, ContractError
from contracts.runtime import Call
from contracts.uscc import require_uscc

PACKAGE = "contracts"
ROOT = Path(__file__).resolve().parent.parent


class WalkError(Exception):
    """The walk met code it cannot read soundly (say, a refusal whose code is computed)."""


@dataclass(frozen=True)
class Refusal:
    """A code a call may return and the message the code gives with it."""

    code: str
    message: str
    site: str  # "contracts.module.function"
    generic: bool  # from a shared argument reader or the runtime, not the call's own logic


@dataclass(frozen=True)
class Read:
    """A top-level argument the call reads; ``kind`` is '' when no checked reader is used."""

    name: str
    kind: str


@dataclass
class Facts:
    refusals: set[Refusal] = field(default_factory=set)
    reads: set[Read] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    events: dict[str, set[str]] = field(default_factory=dict)
    reached: set[str] = field(default_factory=set)  # qualified names of functions walked

    def merge(self, other: Facts) -> None:
        self.refusals |= other.refusals
        self.reads |= other.reads
        self.roles |= other.roles
        for event, attrs in other.events.items():
            self.events.setdefault(event, set()).update(attrs)
        self.reached |= other.reached

    @property
    def codes(self) -> set[str]:
        return {r.code for r in self.refusals}


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


ARGS = _Marker("call.args")
CALL = _Marker("call")
Value = _Marker | frozenset[str] | bool


@dataclass(frozen=True)
class Param:
    """A bound given as a chain parameter (``call.param("name")``)."""

    name: str


# --- checked argument readers: the type and bounds they enforce, from their bound values ---


def _bounds(low: Any, high: Any) -> str:
    if high == A.MAX_INT:
        return f"int ≥ {_show(low)}"
    return f"int in [{_show(low)}, {_show(high)}]"


def _show(value: Any) -> str:
    if isinstance(value, Param):
        return f"`{value.name}`"
    return str(value)


def _text(b: dict[str, Any]) -> str:
    if b["optional"] is True:
        return f"text ≤ {_show(b['max_len'])} chars, may be absent or ''"
    return f"text, 1–{_show(b['max_len'])} chars"


def _blob(b: dict[str, Any]) -> str:
    if b["length"] is not None:
        return f"bytes[{_show(b['length'])}]"
    return f"bytes ≤ {_show(b['max_len'])}"


ID_TEXT = "id: 1–64 of `A-Z a-z 0-9 . _ -`"
CODE_TEXT = "code: 1–32 of `A-Z a-z 0-9 . _ -`"
# reader → (its arguments parameter, its name parameter, render(bound values))
READERS: dict[Callable[..., Any], tuple[str, str, Callable[[dict[str, Any]], str]]] = {
    A.text: ("args", "name", _text),
    A.integer: ("args", "name", lambda b: _bounds(b["minimum"], b["maximum"])),
    A.amount_fen: ("args", "name", lambda b: "fen: int ≥ 0"),
    A.blob: ("args", "name", _blob),
    A.text_list: (
        "args",
        "name",
        lambda b: f"[text ≤ {_show(b['max_len'])} chars], ≤ {_show(b['max_items'])} items",
    ),
    A.mapping: ("args", "name", lambda b: "map"),
    tender_record.record_id: ("a", "name", lambda b: ID_TEXT),
    experts._code: ("a", "name", lambda b: CODE_TEXT),
    supermarket._code: ("a", "name", lambda b: CODE_TEXT),
}
USCC_TEXT = "USCC (18 characters, check character valid)"


def _guard_refusals(env: dict[str, Value]) -> set[Refusal]:
    """``tender_rules.require(view, action)``: the guards of every row of the actions asked."""
    actions = env.get("action")
    out = set()
    for (_, action), transition in tender_rules.TRANSITIONS.items():
        if isinstance(actions, frozenset) and action not in actions:
            continue
        for guard in transition.guards:
            _, code, message = tender_rules.GUARDS[guard]
            out.add(Refusal(code, message, f"{PACKAGE}.tender_rules.GUARDS[{guard!r}]", False))
    return out


# functions modelled rather than read: their extra refusals, given the walk's knowledge
MODELLED: dict[Callable[..., Any], Callable[[dict[str, Value]], set[Refusal]]] = {
    tender_rules.require: _guard_refusals,
}
# refusals from these are about arguments in general or the runtime, not the call's logic
GENERIC_MODULES = (A.__name__,)
GENERIC_FUNCTIONS = ("Call.emit",)
KEY_CHECK = Refusal(E_BAD_ARGS, "a malformed public key", "ledger.crypto.check_pubkey", True)


# --- reading a function's source ---


@cache
def _source(fn: Callable[..., Any]) -> ast.FunctionDef:
    lines, start = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise WalkError(f"{qualified(fn)} is not a plain function")
    ast.increment_lineno(tree, start - 1)
    return node


def qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _where(fn: Callable[..., Any], node: ast.AST) -> str:
    path = Path(inspect.getfile(fn)).resolve()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{getattr(node, 'lineno', '?')}"


def _ours(obj: Any) -> bool:
    return inspect.isfunction(obj) and str(obj.__module__).startswith(PACKAGE + ".")


class _Scope:
    """One function being walked with what is known about its parameters."""

    def __init__(self, fn: Callable[..., Any], env: dict[str, Value]) -> None:
        self.fn = fn
        self.node = _source(fn)
        self.env: dict[str, Value] = dict(env)
        self.globals: dict[str, Any] = getattr(fn, "__globals__", {})
        self.imports: dict[str, Any] = {}
        self.locals: dict[str, ast.expr] = {}
        self.parents: dict[ast.AST, ast.AST] = {}
        self.bound: set[str] = set()  # names the function binds itself: they hide globals
        for parent in ast.walk(self.node):
            if isinstance(parent, ast.Name) and isinstance(parent.ctx, ast.Store):
                self.bound.add(parent.id)
            if isinstance(parent, ast.arg):
                self.bound.add(parent.arg)
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
            if isinstance(parent, ast.ImportFrom) and parent.module:
                self._local_import(parent)
            if (
                isinstance(parent, ast.Assign)
                and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name)
            ):
                self.locals[parent.targets[0].id] = parent.value
        for arg in (*self.node.args.posonlyargs, *self.node.args.args, *self.node.args.kwonlyargs):
            if isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Call":
                self.env[arg.arg] = CALL
        for name, value in self.locals.items():  # ``a = call.args``
            if name not in self.env and self.is_args(value):
                self.env[name] = ARGS

    def _local_import(self, node: ast.ImportFrom) -> None:
        module = importlib.import_module(str(node.module))
        for alias in node.names:
            found = getattr(module, alias.name, None)
            if found is None:
                found = importlib.import_module(f"{node.module}.{alias.name}")
            self.imports[alias.asname or alias.name] = found

    # --- what an expression is ---

    def lookup(self, name: str) -> Any:
        if name in self.imports:
            return self.imports[name]
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name, None)

    def resolve(self, expr: ast.expr) -> Any:
        """The object an expression names (a function, class, module, constant), or None."""
        if isinstance(expr, ast.Name):
            return None if expr.id in self.bound else self.lookup(expr.id)
        if isinstance(expr, ast.Attribute):
            if self.is_call(expr.value):
                found = inspect.getattr_static(Call, expr.attr, None)
                return getattr(Call, expr.attr) if inspect.isfunction(found) else None
            base = self.resolve(expr.value)
            ours = str(type(base).__module__).startswith(PACKAGE + ".")
            if base is None or not (isinstance(base, ModuleType | type) or ours):
                return None
            return getattr(base, expr.attr, None)
        return None

    def is_call(self, expr: ast.expr) -> bool:
        return isinstance(expr, ast.Name) and self.env.get(expr.id) is CALL

    def is_args(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Name):
            return self.env.get(expr.id) is ARGS
        return isinstance(expr, ast.Attribute) and expr.attr == "args" and self.is_call(expr.value)

    def strings(self, expr: ast.expr) -> frozenset[str] | None:
        """The string values an expression may have, when they are known."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return frozenset({expr.value})
        if isinstance(expr, ast.Name) and isinstance(self.env.get(expr.id), frozenset):
            found = self.env[expr.id]
            return found if isinstance(found, frozenset) else None
        if isinstance(expr, ast.Subscript):  # a module-level table of names: any of its values
            table = self.resolve(expr.value)
            values = list(table.values()) if isinstance(table, dict) else []
            if values and all(isinstance(v, str) for v in values):
                return frozenset(values)
            return None
        value = self.resolve(expr)
        return frozenset({value}) if isinstance(value, str) else None

    def value(self, expr: ast.expr | None) -> Any:
        """A bound as the reference shows it: an int, ``Param``, or the source text."""
        if expr is None:
            return None
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "int":
            return self.value(expr.args[0]) if len(expr.args) == 1 else ast.unparse(expr)
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "param"
            and self.is_call(expr.func.value)
        ):
            names = self.strings(expr.args[0])
            if names and len(names) == 1:
                return Param(next(iter(names)))
        if isinstance(expr, ast.Name):
            if expr.id in self.locals:
                return self.value(self.locals[expr.id])
            found = self.resolve(expr)
            if isinstance(found, int | str):
                return found
        return ast.unparse(expr)

    def message(self, expr: ast.expr | None) -> str:
        if expr is None:
            return ""
        if isinstance(expr, ast.Constant):
            return str(expr.value)
        if not isinstance(expr, ast.JoinedStr):
            return "{" + ast.unparse(expr) + "}"
        parts = []
        for piece in expr.values:
            if isinstance(piece, ast.Constant):
                parts.append(str(piece.value))
                continue
            assert isinstance(piece, ast.FormattedValue)
            known = self.strings(piece.value)
            listed = self.listing(piece.value)
            if known is not None and len(known) == 1:
                text = next(iter(known))
                parts.append(repr(text) if piece.conversion == ord("r") else text)
            elif listed is not None:
                parts.append(listed)
            else:
                parts.append("{" + ast.unparse(piece.value) + "}")
        return "".join(parts)

    def listing(self, expr: ast.expr) -> str | None:
        """``list(X)`` or ``sorted(X)`` of a module's constant collection of texts (the
        choices a refusal names), as the message prints it; else None."""
        if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
                and expr.func.id in ("list", "sorted") and len(expr.args) == 1
                and not expr.keywords and expr.func.id not in self.bound):
            return None
        found = self.resolve(expr.args[0])
        if not isinstance(found, dict | list | tuple | frozenset | set):
            return None
        if not found or not all(isinstance(item, str) for item in found):
            return None
        return str(sorted(found) if expr.func.id == "sorted" else list(found))

    def truth(self, expr: ast.expr) -> bool | None:
        """The value of a condition on a flag parameter the caller fixed, when known."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, bool):
            return expr.value
        if isinstance(expr, ast.Name):
            found = self.env.get(expr.id)
            return found if isinstance(found, bool) else None
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            inner = self.truth(expr.operand)
            return None if inner is None else not inner
        return None

    def live(self) -> Iterator[ast.AST]:
        """Every node of the function except the branches a known flag rules out."""
        stack: list[ast.AST] = [self.node]
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node, ast.If | ast.IfExp):
                known = self.truth(node.test)
                if known is not None:
                    taken = node.body if known else node.orelse
                    stack.append(node.test)
                    stack.extend(taken if isinstance(taken, list) else [taken])
                    continue
            stack.extend(ast.iter_child_nodes(node))

    def classify(self, expr: ast.expr) -> Value | None:
        if self.is_call(expr):
            return CALL
        if self.is_args(expr):
            return ARGS
        known = self.truth(expr)
        if known is not None:
            return known
        return self.strings(expr)


def _method_call(scope: _Scope, fn: Callable[..., Any], node: ast.Call) -> bool:
    """A method called on an object (``call.emit(...)``, ``TENDER.advance(...)``): its first
    parameter is the object, not the call site's first argument."""
    on_call = isinstance(node.func, ast.Attribute) and scope.is_call(node.func.value)
    return inspect.ismethod(fn) or on_call


def _bind(
    scope: _Scope, fn: Callable[..., Any], node: ast.Call
) -> tuple[dict[str, Value], dict[str, ast.expr | None]]:
    """What is known of the callee's parameters at this call site, and the raw expressions."""
    target = fn.__func__ if inspect.ismethod(fn) else fn
    params = list(inspect.signature(target).parameters.values())
    if _method_call(scope, fn, node):
        params = params[1:]
    exprs: dict[str, ast.expr | None] = {}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for param, arg in zip(positional, node.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        exprs[param.name] = arg
    for keyword in node.keywords:
        if keyword.arg is not None:
            exprs[keyword.arg] = keyword.value
    env: dict[str, Value] = {}
    for param in params:
        expr = exprs.get(param.name)
        if expr is None:
            exprs[param.name] = None
            if isinstance(param.default, bool):
                env[param.name] = param.default
            elif isinstance(param.default, str):
                env[param.name] = frozenset({param.default})
            continue
        known = scope.classify(expr)
        if known is not None:
            env[param.name] = known
    return env, exprs


def _reader_read(scope: _Scope, fn: Callable[..., Any], node: ast.Call) -> Read | None:
    reader = READERS.get(fn)
    if reader is None:
        return None
    args_param, name_param, render = reader
    env, exprs = _bind(scope, fn, node)
    names = env.get(name_param)
    if env.get(args_param) is not ARGS or not isinstance(names, frozenset) or len(names) != 1:
        return None
    defaults = {
        p.name: p.default for p in inspect.signature(fn).parameters.values()
        if p.default is not p.empty
    }
    bound = {
        k: (scope.value(e) if e is not None else defaults.get(k)) for k, e in exprs.items()
    }
    kind = USCC_TEXT if _inside_uscc(scope, node) else render(bound)
    return Read(next(iter(names)), kind)


def _inside_uscc(scope: _Scope, node: ast.expr) -> bool:
    parent = scope.parents.get(node)
    return (
        isinstance(parent, ast.Call)
        and bool(parent.args)
        and parent.args[0] is node
        and scope.resolve(parent.func) is require_uscc
    )


def _plain_read(scope: _Scope, node: ast.AST) -> Read | None:
    """``args[k]``, ``args.get(k)`` and ``k in args`` on the call's arguments."""
    key: ast.expr | None = None
    if isinstance(node, ast.Subscript) and scope.is_args(node.value):
        key = node.slice
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and scope.is_args(node.func.value)
        and node.args
    ):
        key = node.args[0]
    elif (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and scope.is_args(node.comparators[0])
    ):
        key = node.left
    if key is None:
        return None
    names = scope.strings(key)
    if names is None:
        raise WalkError(f"{_where(scope.fn, node)}: an argument read whose name is not known")
    kind = USCC_TEXT if isinstance(node, ast.expr) and _inside_uscc(scope, node) else ""
    return Read(next(iter(names)), kind) if len(names) == 1 else None


_walking: set[tuple[Callable[..., Any], tuple[tuple[str, str], ...]]] = set()
_memo: dict[tuple[Callable[..., Any], tuple[tuple[str, str], ...]], Facts] = {}
_cuts = [0]  # recursions cut so far


def _env_key(env: dict[str, Value]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(sorted(v)) if isinstance(v, frozenset) else repr(v))
                        for k, v in env.items()))


def walk(fn: Callable[..., Any], env: dict[str, Value] | None = None) -> Facts:
    """Everything the walk finds in ``fn`` and what it calls (``fn`` a handler: no env)."""
    env = env or {}
    key = (fn, _env_key(env))
    if key in _memo:
        return _memo[key]
    if key in _walking:  # recursion: the outer walk of this function collects it all, but
        _cuts[0] += 1  # what was walked meanwhile lacks it: not kept for later calls
        return Facts()
    _walking.add(key)
    cuts = _cuts[0]
    try:
        facts = _walk_body(_Scope(fn, env))
    finally:
        _walking.discard(key)
    if _cuts[0] == cuts:
        _memo[key] = facts
    return facts


def _walk_body(scope: _Scope) -> Facts:
    fn = scope.fn
    target = fn.__func__ if inspect.ismethod(fn) else fn
    facts = Facts(reached={qualified(target)})
    modelled = MODELLED.get(target)
    if modelled is not None:
        facts.refusals |= modelled(scope.env)
    generic = target.__module__ in GENERIC_MODULES or target.__qualname__ in GENERIC_FUNCTIONS
    for node in scope.live():
        read = _plain_read(scope, node)
        if read is not None:
            facts.reads.add(read)
        if isinstance(node, ast.Call):
            _visit_call(scope, node, facts, generic, modelled is not None)
    return facts


def _visit_call(
    scope: _Scope, node: ast.Call, facts: Facts, generic: bool, modelled: bool
) -> None:
    if isinstance(node.func, ast.Attribute) and node.func.attr == "check_pubkey":
        facts.refusals.add(KEY_CHECK)
        return
    callee = scope.resolve(node.func)
    if callee is None:
        return
    if isinstance(callee, type) and issubclass(callee, ContractError):
        codes = scope.strings(node.args[0]) if node.args else None
        if codes is None:
            if modelled:
                return
            raise WalkError(f"{_where(scope.fn, node)}: a refusal whose code is not a constant")
        message = scope.message(node.args[1] if len(node.args) > 1 else None)
        site = qualified(scope.fn)
        for code in codes:
            facts.refusals.add(Refusal(code, message, site, generic))
        return
    if callee in (Call.require_role, Call.has_role) and node.args:
        roles = scope.strings(node.args[0])
        if callee is Call.require_role or len(node.args) == 1:
            facts.roles |= roles or set()
    if callee is Call.emit and node.args:
        for event in scope.strings(node.args[0]) or ():
            attrs = facts.events.setdefault(event, set())
            attrs.update(k.arg for k in node.keywords if k.arg is not None)
    read = _reader_read(scope, callee, node)
    function = callee.__func__ if inspect.ismethod(callee) else callee
    if _ours(function):
        env, _ = _bind(scope, callee, node)
        inner = walk(function, env)
        if read is not None:  # the reader's own reads are the one read recorded here
            inner = Facts(inner.refusals, set(), inner.roles, inner.events, inner.reached)
        facts.merge(inner)
    if read is not None:
        facts.reads.add(read)


def contract_error_sites() -> Iterator[tuple[str, str]]:
    """``(function qualified name, file:line)`` of every ``ContractError`` built in the
    package (module level included, as ``<module>``)."""
    package = importlib.import_module(PACKAGE)
    for path in sorted(Path(str(package.__path__[0])).glob("*.py")):
        module = f"{PACKAGE}.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        yield from _sites_in(tree, module, module, path)


def _sites_in(node: ast.AST, module: str, owner: str, path: Path) -> Iterator[tuple[str, str]]:
    """Module and class bodies are entered; a function is one owner, nested code and all."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            yield from _sites_in(child, module, f"{owner}.{child.name}", path)
            continue
        inner = f"{owner}.{child.name}" if isinstance(child, ast.FunctionDef) else owner
        for sub in ast.walk(child):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == "ContractError"
            ):
                yield inner, f"{path.relative_to(ROOT)}:{sub.lineno}"

"""Risk rules: safe expressions over an item's metadata that send it to a tier of people.

A rule is a small Python-like expression written by users in a project's config::

    amount > 10000
    country in ['IR', 'KP'] and amount >= 500
    meta.region == "EU" or len(text) > 2000
    label_hint is None

It is never given to ``eval``. :func:`compile_rule` parses it with ``ast.parse(mode="eval")``,
checks every node against a whitelist and turns the checked tree into a tree of small closures, so
matching an item costs a handful of function calls. Allowed: ``and or not``; comparisons, chained
too: ``== != < <= > >= in not in`` and ``is None`` / ``is not None``; unary ``-``; ``+ - * /``
between numbers; constants (str, int, float, bool, None); lists, tuples and sets of constants;
field names; dotted access into nested dicts (``meta.region``); the calls ``len(x)``,
``lower(x)``, ``upper(x)``, ``abs(x)``. Anything else raises
:class:`~labelloop.errors.RuleError` naming the construct and the rule.

Semantics, chosen so that matching never raises on JSON-like data (str, numbers, bool, None,
lists and dicts):

* a missing field, or a dotted path through something that is not a dict, is ``None``;
* ``< <= > >=`` are ``False`` when the sides cannot be ordered (``None < 1``, ``"10" > 5``),
  so ``not amount < 5`` is ``True`` for a missing amount;
* ``in`` tests membership in a list, tuple, set or dict, or a substring of a str, and is ``False``
  against anything else (``None`` included); ``not in`` is its negation;
* ``len lower upper abs`` and arithmetic give ``None`` for arguments of the wrong type (bools are
  not numbers), and arithmetic gives ``None`` on division by zero or overflow;
* ``==`` and ``!=`` are Python's, so ``1 == 1.0`` and ``1 == True``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelloop.errors import RuleError
from labelloop.tiers import TIERS, tier_rank

MAX_LENGTH = 500
MAX_DEPTH = 20

Data = Mapping[str, Any]
Fn = Callable[[Data], Any]

_NO_CONST = object()
_CONTAINERS = (list, tuple, set, frozenset, dict)
_SIZED = (str, *_CONTAINERS)
_CAUGHT = (TypeError, ValueError)
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_SYMBOLS = {
    ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.Invert: "~",
    ast.UAdd: "+",
}  # fmt: skip
_ORDER = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_CONSTRUCTS = {
    "Subscript": "subscript", "Slice": "slice", "Lambda": "lambda",
    "ListComp": "comprehension", "SetComp": "comprehension", "DictComp": "comprehension",
    "GeneratorExp": "generator expression", "JoinedStr": "f-string", "FormattedValue": "f-string",
    "NamedExpr": "assignment expression ':='", "IfExp": "conditional expression",
    "Dict": "dict literal", "Starred": "star unpacking", "Await": "await", "Yield": "yield",
    "YieldFrom": "yield",
}  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _len(value: Any) -> int | None:
    return len(value) if isinstance(value, _SIZED) else None


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


def _abs(value: Any) -> int | float | None:
    return abs(value) if _is_number(value) else None


def _neg(value: Any) -> int | float | None:
    return -value if _is_number(value) else None


_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "len": _len, "lower": _lower, "upper": _upper, "abs": _abs,
}  # fmt: skip


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, _CONTAINERS):
        try:
            return item in container
        except TypeError:  # unhashable item against a set or dict
            return False
    return False


@dataclass(frozen=True)
class _Node:
    """A compiled subexpression: ``fn(data)`` gives its value."""

    fn: Fn
    is_bool: bool = False  # fn always gives a bool
    const: Any = _NO_CONST  # the value, when known at compile time
    name: str | None = None  # the field name, when the node is a bare name


def _const_node(value: Any) -> _Node:
    return _Node(lambda data: value, isinstance(value, bool), value)


def _pair_test(op: ast.cmpop, right: _Node) -> Callable[[Any, Any], bool]:
    """``test(left_value, right_value)`` for one comparison operator."""
    if type(op) in _ORDER:
        order = _ORDER[type(op)]

        def ordered(a: Any, b: Any) -> bool:
            try:
                return order(a, b)
            except _CAUGHT:
                return False

        return ordered
    if isinstance(op, ast.Eq | ast.NotEq):
        return operator.eq if isinstance(op, ast.Eq) else operator.ne
    if isinstance(op, ast.Is | ast.IsNot):
        return operator.is_ if isinstance(op, ast.Is) else operator.is_not
    negate = isinstance(op, ast.NotIn)
    if isinstance(right.const, list | tuple | frozenset):
        members, scan = frozenset(right.const), tuple(right.const)

        def member(a: Any, b: Any) -> bool:
            try:
                return a in members
            except TypeError:  # unhashable value: compare one by one
                return a in scan

        if negate:
            return lambda a, b: not member(a, b)
        return member
    if negate:
        return lambda a, b: not _contains(b, a)
    return lambda a, b: _contains(b, a)


class _Compiler:
    """Checks a parsed rule against the whitelist and builds its closures."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, what: str) -> RuleError:
        return RuleError(f"rule {self.text!r}: {what}")

    def compile(self, node: ast.AST, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels is not allowed")
        method = _HANDLERS.get(type(node))
        if method is None:
            name = type(node).__name__
            raise self.error(f"{_CONSTRUCTS.get(name, name)} is not allowed")
        return method(self, node, depth + 1)

    def truth(self, node: _Node) -> Callable[[Data], bool]:
        """A function giving the node's truth value, never raising."""
        if node.is_bool:
            return node.fn
        if node.const is not _NO_CONST:
            value = bool(node.const)
            return lambda data: value
        fn = node.fn

        def truthy(data: Data) -> bool:
            try:
                return bool(fn(data))
            except _CAUGHT:
                return False

        return truthy

    def _constant(self, node: ast.Constant, depth: int) -> _Node:
        value = node.value
        if value is not None and not isinstance(value, str | int | float):  # bool is an int
            raise self.error(f"constant {value!r} is not allowed")
        return _const_node(value)

    def _name(self, node: ast.Name, depth: int) -> _Node:
        name = node.id
        return _Node(lambda data: data.get(name), name=name)

    def _attribute(self, node: ast.Attribute, depth: int) -> _Node:
        path: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            if current.attr.startswith("__"):
                raise self.error(f"attribute access to {current.attr!r} is not allowed")
            path.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.error("attribute access is only allowed on field names, as in 'meta.region'")
        first, rest = current.id, tuple(reversed(path))

        def lookup(data: Data) -> Any:
            value = data.get(first)
            for key in rest:
                if not isinstance(value, Mapping):
                    return None
                value = value.get(key)
            return value

        return _Node(lookup)

    def _sequence(self, node: ast.List | ast.Tuple | ast.Set, depth: int) -> list[Any]:
        values = []
        for element in node.elts:
            compiled = self.compile(element, depth)
            if compiled.const is _NO_CONST or isinstance(compiled.const, list | tuple | frozenset):
                raise self.error("list, tuple and set literals may only hold constants")
            values.append(compiled.const)
        return values

    def _list(self, node: ast.List, depth: int) -> _Node:
        return _const_node(self._sequence(node, depth))

    def _tuple(self, node: ast.Tuple, depth: int) -> _Node:
        return _const_node(tuple(self._sequence(node, depth)))

    def _set(self, node: ast.Set, depth: int) -> _Node:
        return _const_node(frozenset(self._sequence(node, depth)))

    def _call(self, node: ast.Call, depth: int) -> _Node:
        if isinstance(node.func, ast.Attribute):
            raise self.error(f"method call '.{node.func.attr}()' is not allowed; use lower(x) etc.")
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS:
            shown = f"call to {name!r}" if name else "call to a computed function"
            raise self.error(f"{shown} is not allowed; allowed: {', '.join(_FUNCTIONS)}")
        if node.keywords or len(node.args) != 1:
            raise self.error(f"{name}() takes exactly one positional argument")
        function, arg = _FUNCTIONS[name], self.compile(node.args[0], depth)
        if arg.const is not _NO_CONST:
            return _const_node(function(arg.const))
        inner = arg.fn
        return _Node(lambda data: function(inner(data)))

    def _unary(self, node: ast.UnaryOp, depth: int) -> _Node:
        operand = self.compile(node.operand, depth)
        if isinstance(node.op, ast.Not):
            inner = self.truth(operand)
            return _Node(lambda data: not inner(data), is_bool=True)
        if not isinstance(node.op, ast.USub):
            raise self.error(f"unary operator {_SYMBOLS[type(node.op)]!r} is not allowed")
        if operand.const is not _NO_CONST:
            if not _is_number(operand.const):
                raise self.error(f"unary '-' needs a number, got {operand.const!r}")
            return _const_node(-operand.const)
        fn = operand.fn
        return _Node(lambda data: _neg(fn(data)))

    def _binary(self, node: ast.BinOp, depth: int) -> _Node:
        op = _ARITH.get(type(node.op))
        if op is None:
            raise self.error(f"operator {_SYMBOLS[type(node.op)]!r} is not allowed")
        left, right = self.compile(node.left, depth), self.compile(node.right, depth)
        for side in (left, right):
            if side.const is not _NO_CONST and not _is_number(side.const):
                raise self.error(f"arithmetic needs numbers, got {side.const!r}")
        left_fn, right_fn = left.fn, right.fn

        def arith(data: Data) -> Any:
            a, b = left_fn(data), right_fn(data)
            if not (_is_number(a) and _is_number(b)):
                return None
            try:
                return op(a, b)
            except (ZeroDivisionError, OverflowError):
                return None

        if left.const is not _NO_CONST and right.const is not _NO_CONST:
            return _const_node(arith({}))
        return _Node(arith)

    def _boolean(self, node: ast.BoolOp, depth: int) -> _Node:
        parts = tuple(self.truth(self.compile(value, depth)) for value in node.values)
        if isinstance(node.op, ast.And):
            if len(parts) == 2:
                a, b = parts
                return _Node(lambda data: a(data) and b(data), is_bool=True)
            return _Node(lambda data: all(part(data) for part in parts), is_bool=True)
        if len(parts) == 2:
            a, b = parts
            return _Node(lambda data: a(data) or b(data), is_bool=True)
        return _Node(lambda data: any(part(data) for part in parts), is_bool=True)

    def _compare(self, node: ast.Compare, depth: int) -> _Node:
        left = self.compile(node.left, depth)
        steps = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.compile(comparator, depth)
            if isinstance(op, ast.Is | ast.IsNot) and right.const is not None:
                raise self.error("'is' is only allowed as 'is None' or 'is not None'")
            if (
                isinstance(op, ast.In | ast.NotIn)
                and right.const is not _NO_CONST
                and not isinstance(right.const, str | list | tuple | frozenset)
            ):
                raise self.error("'in' needs a list, tuple, set, string or field on its right")
            steps.append((_pair_test(op, right), right))
        if len(steps) == 1:
            return _Node(self._single(left, *steps[0]), is_bool=True)
        left_fn = left.fn
        chain = tuple((test, right.fn) for test, right in steps)

        def chained(data: Data) -> bool:
            a = left_fn(data)
            for test, right_fn in chain:
                b = right_fn(data)
                if not test(a, b):
                    return False
                a = b
            return True

        return _Node(chained, is_bool=True)

    @staticmethod
    def _single(left: _Node, test: Callable[[Any, Any], bool], right: _Node) -> Fn:
        """One comparison, specialised for the common ``field OP constant``."""
        if right.const is _NO_CONST:
            left_fn, right_fn = left.fn, right.fn
            return lambda data: test(left_fn(data), right_fn(data))
        const = right.const
        if left.name is not None:
            name = left.name
            return lambda data: test(data.get(name), const)
        left_fn = left.fn
        return lambda data: test(left_fn(data), const)


@dataclass(frozen=True)
class Rule:
    """A checked rule: its text, parsed tree and compiled predicate. Build with compile_rule."""

    text: str
    tree: ast.Expression = field(compare=False, repr=False)
    predicate: Callable[[Data], bool] = field(compare=False, repr=False)

    def matches(self, data: Data) -> bool:
        """Whether the item with metadata ``data`` (a mapping) matches the rule."""
        return self.predicate(data)


def compile_rule(expr: str) -> Rule:
    """Parse and check ``expr``; raise :class:`RuleError` if it is malformed or unsafe."""
    if not isinstance(expr, str):
        raise RuleError(f"rule {expr!r}: a rule must be a string")
    text = expr.strip()
    if not text:
        raise RuleError("rule '': a rule must not be empty")
    if len(text) > MAX_LENGTH:
        raise RuleError(f"rule {text[:40]!r}...: longer than {MAX_LENGTH} characters")
    compiler = _Compiler(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise compiler.error(f"syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise compiler.error(f"cannot be parsed: {exc}") from None
    return Rule(text, tree, compiler.truth(compiler.compile(tree.body, 0)))


_HANDLERS: dict[type[ast.AST], Callable[[_Compiler, Any, int], _Node]] = {
    ast.Constant: _Compiler._constant,
    ast.Name: _Compiler._name,
    ast.Attribute: _Compiler._attribute,
    ast.List: _Compiler._list,
    ast.Tuple: _Compiler._tuple,
    ast.Set: _Compiler._set,
    ast.Call: _Compiler._call,
    ast.UnaryOp: _Compiler._unary,
    ast.BinOp: _Compiler._binary,
    ast.BoolOp: _Compiler._boolean,
    ast.Compare: _Compiler._compare,
}


class RuleSet:
    """Rules with tiers; an item goes to the highest tier it matches (annotator<reviewer<expert).

    ``rules`` are ``(expr, tier)`` pairs; ``expr`` is a rule's text or a compiled :class:`Rule`.
    """

    def __init__(self, rules: Iterable[tuple[str | Rule, str]]) -> None:
        checked = []
        for expr, tier in rules:
            rule = expr if isinstance(expr, Rule) else compile_rule(expr)
            if tier not in TIERS:
                raise RuleError(
                    f"rule {rule.text!r}: unknown tier {tier!r}; expected one of {', '.join(TIERS)}"
                )
            checked.append((rule, tier))
        self.rules: tuple[tuple[Rule, str], ...] = tuple(checked)
        by_rank = sorted(checked, key=lambda pair: -tier_rank(pair[1]))
        self._tests = tuple((rule.predicate, tier) for rule, tier in by_rank)

    def __len__(self) -> int:
        return len(self.rules)

    def tier_for(self, data: Data) -> str | None:
        """The highest tier among the rules ``data`` matches, or None when it matches none."""
        for test, tier in self._tests:
            if test(data):
                return tier
        return None

    def tiers_for(self, records: Sequence[Data]) -> list[str | None]:
        """:meth:`tier_for` for each record."""
        tier_for = self.tier_for
        return [tier_for(data) for data in records]

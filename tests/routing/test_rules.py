"""Tests for the safe risk-rule evaluator and tier routing."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from labelloop.errors import RuleError
from labelloop.routing.rules import MAX_DEPTH, MAX_LENGTH, Rule, RuleSet, compile_rule

# ---------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("expr", "data", "expected"),
    [
        ("amount > 10000", {"amount": 10001}, True),
        ("amount > 10000", {"amount": 10000}, False),
        ("country in ['IR', 'KP'] and amount >= 500", {"country": "KP", "amount": 500}, True),
        ("country in ['IR', 'KP'] and amount >= 500", {"country": "KP", "amount": 499}, False),
        ("country in ['IR', 'KP'] and amount >= 500", {"country": "US", "amount": 900}, False),
        ("country not in ('IR', 'KP')", {"country": "US"}, True),
        ("country in {'IR', 'KP'}", {"country": "IR"}, True),
        ("not verified", {"verified": False}, True),
        ("not verified", {"verified": True}, False),
        ("len(text) > 2000", {"text": "a" * 2001}, True),
        ("len(text) > 2000", {"text": "a" * 2000}, False),
        ('source == "partner-x" or priority >= 3', {"source": "partner-x"}, True),
        ('source == "partner-x" or priority >= 3', {"source": "web", "priority": 3}, True),
        ('source == "partner-x" or priority >= 3', {"source": "web", "priority": 2}, False),
        ('meta.region == "EU"', {"meta": {"region": "EU"}}, True),
        ('meta.region == "EU"', {"meta": {"region": "US"}}, False),
        ("label_hint is None", {}, True),
        ("label_hint is None", {"label_hint": "spam"}, False),
        ("label_hint is not None", {"label_hint": "spam"}, True),
        ("lower(country) == 'ir'", {"country": "IR"}, True),
        ("upper(country) == 'IR'", {"country": "ir"}, True),
        ("abs(delta) > 5", {"delta": -7}, True),
        ("amount * 1.2 - fee > 100", {"amount": 100, "fee": 10}, True),
        ("amount / count >= 50", {"amount": 100, "count": 2}, True),
        ("-amount < -10", {"amount": 11}, True),
        ("'urgent' in tags", {"tags": ["urgent", "vip"]}, True),
        ("'urg' in title", {"title": "very urgent"}, True),
        ("'a' in b and c or d", {"b": "xa", "c": 0, "d": 1}, True),
        ("(a or b) and not c", {"a": 0, "b": 1, "c": 0}, True),
        ("True", {}, True),
        ("  amount > 1\n", {"amount": 2}, True),
    ],
)
def test_examples(expr: str, data: dict[str, Any], expected: bool) -> None:
    assert compile_rule(expr).matches(data) is expected


def test_rule_is_frozen_and_keeps_text_and_tree() -> None:
    rule = compile_rule("amount > 1")
    assert rule.text == "amount > 1"
    assert rule == compile_rule(" amount > 1 ")
    assert hash(rule) == hash(compile_rule("amount > 1"))
    with pytest.raises(AttributeError):
        rule.text = "x"  # type: ignore[misc]


# ---------------------------------------------------------------- rejected constructs


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("eval('1 + 1')", "call to 'eval' is not allowed"),
        ("exec('x = 1')", "call to 'exec' is not allowed"),
        ("__import__('os').system('ls')", "method call"),
        ("__import__('os')", "call to '__import__' is not allowed"),
        ("getattr(x, 'y')", "call to 'getattr' is not allowed"),
        ("open('/etc/passwd')", "call to 'open' is not allowed"),
        ("().__class__", "attribute access to '__class__' is not allowed"),
        ("x.__class__ > 1", "attribute access to '__class__' is not allowed"),
        ("meta.__dict__", "attribute access to '__dict__' is not allowed"),
        ("len(x).real", "attribute access is only allowed on field names"),
        ("'abc'.upper() == x", "method call '.upper()' is not allowed"),
        ("x.lower() == 'a'", "method call '.lower()' is not allowed"),
        ("x[0] == 1", "subscript is not allowed"),
        ("x[1:2] == 1", "subscript is not allowed"),
        ("(lambda: 1)() == 1", "call to a computed function is not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("[a for a in b]", "comprehension is not allowed"),
        ("{a for a in b}", "comprehension is not allowed"),
        ("any(a for a in b)", "call to 'any' is not allowed"),
        ("(a for a in b)", "generator expression is not allowed"),
        ("f'{x}' == 'a'", "f-string is not allowed"),
        ("(y := 1) > 0", "assignment expression ':=' is not allowed"),
        ("a if b else c", "conditional expression is not allowed"),
        ("{'a': 1} == x", "dict literal is not allowed"),
        ("x ** 2 > 1", "operator '**' is not allowed"),
        ("x % 2 == 0", "operator '%' is not allowed"),
        ("x // 2 == 0", "operator '//' is not allowed"),
        ("x | y", "operator '|' is not allowed"),
        ("~x", "unary operator '~' is not allowed"),
        ("+x", "unary operator '+' is not allowed"),
        ("'a' * 1000000000", "arithmetic needs numbers"),
        ("-'a'", "unary '-' needs a number"),
        ("x is 1", "'is' is only allowed as 'is None' or 'is not None'"),
        ("x is y", "'is' is only allowed as 'is None' or 'is not None'"),
        ("x in 3", "'in' needs a list, tuple, set, string or field on its right"),
        ("x in [y]", "may only hold constants"),
        ("x in [[1]]", "may only hold constants"),
        ("b'x' == x", "constant b'x' is not allowed"),
        ("x == 1j", "constant 1j is not allowed"),
        ("len(x, y) > 1", "len() takes exactly one positional argument"),
        ("len(x=y) > 1", "len() takes exactly one positional argument"),
        ("len(*x) > 1", "star unpacking is not allowed"),
        ("x ==", "syntax error"),
        ("x = 1", "syntax error"),
        ("import os", "syntax error"),
        ("a\0", "cannot contain null bytes"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters"),
        ("not " * (MAX_DEPTH + 1) + "x", f"nesting deeper than {MAX_DEPTH} levels"),
        ("-(" * 60 + "x" + ")" * 60 + " > 1", f"nesting deeper than {MAX_DEPTH} levels"),
    ],
)
def test_rejected(expr: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_rule(expr)
    text = str(info.value)
    assert message in text
    assert text.startswith("rule ")
    if len(expr.strip()) <= 40:
        assert repr(expr.strip()) in text


def test_non_string_rule() -> None:
    with pytest.raises(RuleError, match="must be a string"):
        compile_rule(42)  # type: ignore[arg-type]


def test_names_are_only_looked_up_in_data() -> None:
    # Builtins and module globals are not reachable by name: a name is always a data field.
    assert compile_rule("__import__ is None").matches({})
    assert compile_rule("eval == 'x'").matches({"eval": "x"})
    assert compile_rule("RuleError is None").matches({})


# ---------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    "expr",
    [
        "amount > 10",
        "amount < 10",
        "amount >= 10",
        "amount <= 10",
        "amount == 10",
        "country in ['IR']",
        "'IR' in country",
        "len(text) > 0",
        "lower(text) == 'a'",
        "abs(amount) > 0",
        "amount + 1 > 0",
        "-amount < 0",
        "meta.region == 'EU'",
        "verified",
    ],
)
def test_missing_fields_are_none_and_do_not_match(expr: str) -> None:
    assert compile_rule(expr).matches({}) is False


@pytest.mark.parametrize(
    ("expr", "data", "expected"),
    [
        ("amount > 5", {"amount": "10"}, False),
        ("amount < 5", {"amount": "1"}, False),
        ("amount > 5", {"amount": None}, False),
        ("not amount > 5", {"amount": None}, True),
        ("amount > 5", {"amount": [10]}, False),
        ("amount > 5", {"amount": {"v": 10}}, False),
        ("name < 'm'", {"name": "alice"}, True),
        ("tags < [1]", {"tags": ["a"]}, False),
        ("amount == '10'", {"amount": 10}, False),
        ("amount != '10'", {"amount": 10}, True),
        ("amount == 1", {"amount": True}, True),
        ("len(n) > 1", {"n": 12345}, False),
        ("lower(n) == 'a'", {"n": 1}, False),
        ("abs(flag) == 1", {"flag": True}, False),
        ("amount + 1 > 0", {"amount": "1"}, False),
        ("amount + 1 > 0", {"amount": True}, False),
        ("amount / zero > 0", {"amount": 1, "zero": 0}, False),
        ("amount / zero is None", {"amount": 1, "zero": 0}, True),
        ("amount * 1.5 > 0", {"amount": 10**400}, False),
        ("x in tags", {"x": [1], "tags": {"a": 1}}, False),
        ("x in ['a', 'b']", {"x": ["a"]}, False),
        ("x in [1, 2]", {"x": 1.0}, True),
        ("x in tags", {"x": 1, "tags": "123"}, False),
        ("'a' in tags", {"tags": None}, False),
        ("'a' not in tags", {"tags": None}, True),
        ("'a' in tags", {"tags": 5}, False),
        ("x in ['a', None]", {}, True),
        ("meta.region == 'EU'", {"meta": "EU"}, False),
        ("meta.region is None", {"meta": ["region"]}, True),
    ],
)
def test_type_mismatches_give_false_not_errors(
    expr: str, data: dict[str, Any], expected: bool
) -> None:
    assert compile_rule(expr).matches(data) is expected


def test_nested_dotted_access() -> None:
    rule = compile_rule("meta.geo.region == 'EU' and meta.score >= 0.5")
    assert rule.matches({"meta": {"geo": {"region": "EU"}, "score": 0.7}})
    assert not rule.matches({"meta": {"geo": {"region": "EU"}, "score": 0.2}})
    assert not rule.matches({"meta": {"geo": None, "score": 0.7}})
    assert not rule.matches({"meta": {}})
    assert not rule.matches({"meta.geo.region": "EU"})


@pytest.mark.parametrize(
    ("x", "expected"), [(0, False), (1, True), (5, True), (9, True), (10, False), (None, False)]
)
def test_chained_comparisons(x: Any, expected: bool) -> None:
    assert compile_rule("1 <= x < 10").matches({"x": x}) is expected
    assert compile_rule("0 < 1 <= x < 10 != 11").matches({"x": x}) is expected


def test_chained_comparison_with_fields() -> None:
    rule = compile_rule("low <= value <= high")
    assert rule.matches({"low": 1, "value": 2, "high": 3})
    assert not rule.matches({"low": 1, "value": 4, "high": 3})
    assert not rule.matches({"low": 1, "value": 2})


def test_matches_returns_bool_for_bare_values() -> None:
    assert compile_rule("text").matches({"text": "abc"}) is True
    assert compile_rule("text").matches({"text": ""}) is False
    assert compile_rule("a or b").matches({"a": 0, "b": [1]}) is True


# ---------------------------------------------------------------- tiers


def test_tier_precedence_is_highest_matching_tier() -> None:
    rules = RuleSet(
        [
            ("amount > 100", "reviewer"),
            ("amount > 10000", "expert"),
            ("amount > 10", "annotator"),
        ]
    )
    assert rules.tier_for({"amount": 5}) is None
    assert rules.tier_for({"amount": 50}) == "annotator"
    assert rules.tier_for({"amount": 500}) == "reviewer"
    assert rules.tier_for({"amount": 50000}) == "expert"
    assert rules.tier_for({}) is None


def test_tiers_for_batch_and_compiled_rules() -> None:
    vip = compile_rule("country in ['IR', 'KP']")
    rules = RuleSet([(vip, "expert"), ("len(text) > 5", "reviewer")])
    records = [{"country": "IR"}, {"text": "long text"}, {"country": "US", "text": "hi"}]
    assert rules.tiers_for(records) == ["expert", "reviewer", None]
    assert len(rules) == 2
    assert rules.rules[0] == (vip, "expert")


def test_empty_rule_set_routes_nothing() -> None:
    assert RuleSet([]).tiers_for([{}, {"a": 1}]) == [None, None]


def test_unknown_tier_is_rejected() -> None:
    with pytest.raises(RuleError, match="unknown tier 'admin'"):
        RuleSet([("amount > 1", "admin")])


def test_bad_rule_in_set_is_rejected() -> None:
    with pytest.raises(RuleError, match="subscript"):
        RuleSet([("amount > 1", "expert"), ("x[0] > 1", "reviewer")])


# ---------------------------------------------------------------- random rules

NUM_FIELDS = ("a", "b", "c")
Oracle = Callable[[dict[str, Any]], Any]
COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
           "==": operator.eq, "!=": operator.ne}  # fmt: skip
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def random_number(rng: np.random.Generator, depth: int) -> tuple[str, Oracle]:
    """A random numeric expression and a plain-Python function computing it on typed data."""
    kind = int(rng.integers(0, 6 if depth < 3 else 2))
    if kind == 0:
        value = int(rng.integers(-5, 6))
        return str(value), lambda d: value
    if kind == 1:
        name = str(rng.choice(NUM_FIELDS))
        return name, lambda d: d[name]
    if kind == 2:
        symbol = str(rng.choice(list(ARITH)))
        op = ARITH[symbol]
        (lt, lf), (rt, rf) = random_number(rng, depth + 1), random_number(rng, depth + 1)
        return f"({lt} {symbol} {rt})", lambda d: op(lf(d), rf(d))
    if kind == 3:
        text, inner = random_number(rng, depth + 1)
        return f"-({text})", lambda d: -inner(d)
    if kind == 4:
        text, inner = random_number(rng, depth + 1)
        return f"abs({text})", lambda d: abs(inner(d))
    return "len(s)", lambda d: len(d["s"])


def random_condition(rng: np.random.Generator, depth: int) -> tuple[str, Oracle]:
    """A random boolean rule and a plain-Python oracle for it on complete, typed data."""
    kind = int(rng.integers(0, 8 if depth < 3 else 4))
    if kind in (0, 1):
        symbols = [str(s) for s in rng.choice(list(COMPARE), int(rng.integers(1, 3)))]
        parts = [random_number(rng, depth + 1) for _ in range(len(symbols) + 1)]
        text = parts[0][0] + "".join(
            f" {s} {p[0]}" for s, p in zip(symbols, parts[1:], strict=True)
        )

        def chained(d: dict[str, Any]) -> bool:
            values = [f(d) for _, f in parts]
            return all(COMPARE[s](values[i], values[i + 1]) for i, s in enumerate(symbols))

        return text, chained
    if kind == 2:
        options = ["x", "y", "z", "X"]
        chosen = [str(o) for o in rng.choice(options, int(rng.integers(0, 3)), replace=False)]
        negate = bool(rng.integers(0, 2))
        text = f"s {'not in' if negate else 'in'} {chosen!r}"
        return text, lambda d: (d["s"] not in chosen) if negate else (d["s"] in chosen)
    if kind == 3:
        choice = int(rng.integers(0, 4))
        return [
            ("flag", lambda d: bool(d["flag"])),
            ("meta.tier == 'gold'", lambda d: d["meta"]["tier"] == "gold"),
            ("lower(s) == 'x'", lambda d: d["s"].lower() == "x"),
            ("missing is None", lambda d: True),
        ][choice]
    (lt, lf), (rt, rf) = random_condition(rng, depth + 1), random_condition(rng, depth + 1)
    if kind == 4:
        return f"({lt} and {rt})", lambda d: bool(lf(d) and rf(d))
    if kind == 5:
        return f"({lt} or {rt})", lambda d: bool(lf(d) or rf(d))
    return f"not ({lt})", lambda d: not lf(d)


def random_typed_data(rng: np.random.Generator) -> dict[str, Any]:
    return {
        **{name: int(rng.integers(-4, 5)) for name in NUM_FIELDS},
        "s": str(rng.choice(["x", "X", "y", "", "zz"])),
        "flag": bool(rng.integers(0, 2)),
        "meta": {"tier": str(rng.choice(["gold", "silver"]))},
    }


JUNK: tuple[Any, ...] = (None, 0, -1, 2.5, True, "", "x", "10", [], [1, "x"], {}, {"tier": 1},
                         {"tier": "gold"}, [[1]], float("inf"), float("nan"), 10**400)  # fmt: skip


def random_junk_data(rng: np.random.Generator) -> dict[str, Any]:
    fields = (*NUM_FIELDS, "s", "flag", "meta", "missing")
    return {name: JUNK[int(rng.integers(len(JUNK)))] for name in fields if rng.random() < 0.7}


def compile_random(rng: np.random.Generator) -> tuple[Rule, Oracle]:
    text, oracle = random_condition(rng, 0)
    while len(text) > MAX_LENGTH:
        text, oracle = random_condition(rng, 0)
    return compile_rule(text), oracle


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_rules_agree_with_python_on_typed_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        rule, oracle = compile_random(rng)
        for _ in range(10):
            data = random_typed_data(rng)
            assert rule.matches(data) is oracle(data), (rule.text, data)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_rules_never_raise_on_junk_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        rule, _ = compile_random(rng)
        for _ in range(10):
            assert isinstance(rule.matches(random_junk_data(rng)), bool)

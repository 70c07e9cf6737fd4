"""Check labelloop's import layering from the source, without importing it.

Rules:

* algorithms — ``labelloop.learn``, ``labelloop.quality`` and ``labelloop.routing`` (plain
  statistics over arrays) import nothing from the config, the store, the server, the loop, the
  CLI or the settings, not even inside a function;
* module cycles — no import cycle among labelloop modules through module-level imports;
* lazy cycles — none either when imports inside functions count.

Imports under ``if TYPE_CHECKING:`` never count. An import of ``a.b.c`` is an edge to ``a.b.c``
only, not to its parent packages. Run ``python scripts/check_layering.py``: one line per rule,
PASS or FAIL, then what breaks it; the exit status is 1 when a rule fails.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "labelloop"

ALGORITHMS = ("labelloop.learn", "labelloop.quality", "labelloop.routing")
APPLICATION = (
    "labelloop.config",
    "labelloop.store",
    "labelloop.server",
    "labelloop.loop",
    "labelloop.cli",
    "labelloop.settings",
)


#: Lazy (function-level) imports that still close a cycle, as (importer, imported): what is left
#: of the ``loop/project.py`` hub, to be taken apart. An entry that no longer exists fails the
#: check, so the list only shrinks.
@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``line``."""

    source: str
    target: str
    line: int
    lazy: bool  # inside a function body

    def __str__(self) -> str:
        where = "in a function" if self.lazy else "at module level"
        return f"{self.source}:{self.line} imports {self.target} ({where})"


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    modules = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(body: Iterable[ast.stmt], lazy: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement that runs, with whether it runs inside a function; skips TYPE_CHECKING."""
    for node in body:
        yield node, lazy
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.orelse, lazy)
            continue
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from _statements((c for c in children if isinstance(c, ast.stmt)), inner)
            if field == "handlers" and isinstance(children, list):
                for handler in children:
                    yield from _statements(handler.body, inner)
        for case in getattr(node, "cases", []):  # match statements
            yield from _statements(case.body, inner)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a relative ``from`` import."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path, known: Iterable[str]) -> list[Import]:
    """The labelloop modules ``module`` imports, outside ``if TYPE_CHECKING:``."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, lazy in _statements(tree.body, lazy=False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node.level, node.module)
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` mod.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for target in dict.fromkeys(targets):
            if target == ROOT or target.startswith(ROOT + "."):
                found.append(Import(module, target, node.lineno, lazy))
    return found


def all_imports(src: Path = SRC) -> list[Import]:
    """Every labelloop-internal import in the package."""
    files = module_files(src)
    return [edge for module, path in files.items() for edge in imports_of(module, path, files)]


def _within(name: str, packages: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def algorithm_violations(edges: Iterable[Import]) -> list[Import]:
    """Imports from the algorithm packages into the application layer."""
    return [e for e in edges if _within(e.source, ALGORITHMS) and _within(e.target, APPLICATION)]


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """The import cycles among ``edges``: each strongly connected component with more than one
    module (or a module that imports itself), as one closed path through it, sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    found = []
    for component in _components(graph):
        start = min(component)
        if len(component) > 1 or start in graph[start]:
            found.append(_closed_path(graph, component, start))
    return sorted(found)


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (the graph has hundreds of nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    found.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _closed_path(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest cycle through ``start`` inside ``component``, ending where it began."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start] * 2
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a strongly connected component has a cycle")  # pragma: no cover


@dataclass(frozen=True)
class Outcome:
    """One rule's verdict and what breaks it."""

    rule: str
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def check(src: Path = SRC) -> list[Outcome]:
    """Every rule's outcome on the package under ``src``."""
    edges = all_imports(src)
    eager = [e for e in edges if not e.lazy]
    return [
        Outcome(
            "algorithms (learn, quality, routing) import no config, store, server, loop, cli, "
            "settings",
            [str(e) for e in algorithm_violations(edges)],
        ),
        Outcome(
            "no import cycles (module-level imports)",
            [" -> ".join(c) for c in cycles(eager)],
        ),
        Outcome(
            "no import cycles (function-level imports too)",
            [" -> ".join(c) for c in cycles(edges)],
        ),
    ]


def main() -> int:
    """Print one line per rule and its problems; 1 when any rule fails."""
    outcomes = check()
    for outcome in outcomes:
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.rule}")
        for line in outcome.problems:
            print(f"      {line}")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

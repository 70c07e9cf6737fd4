"""Import layering, checked from the source by ``scripts/check_layering.py``: the algorithms import
no application layer, and labelloop's modules import each other without cycles."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_layering.py"


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layering", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
OUTCOMES = {outcome.rule: outcome for outcome in checker.check()}


@pytest.mark.parametrize("rule", list(OUTCOMES))
def test_labelloop_keeps_the_rule(rule: str) -> None:
    outcome = OUTCOMES[rule]
    assert outcome.passed, f"{rule}:\n" + "\n".join(outcome.problems)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "labelloop" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def test_the_checker_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "__init__.py": "",
            "config.py": "from labelloop.learn import models\n",
            "learn/__init__.py": "",
            "learn/models.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from labelloop.store import tables
                def fit():
                    from labelloop.config import ProjectConfig
                """,
            "store/__init__.py": "",
            "store/tables.py": "",
        },
    )
    algorithms, eager, lazy = checker.check(src)
    assert algorithms.problems == [
        "labelloop.learn.models:6 imports labelloop.config (in a function)"
    ]
    assert eager.passed
    assert lazy.problems == [
        "labelloop.config -> labelloop.learn.models -> labelloop.config",
    ]


def test_the_checker_finds_module_cycles(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "__init__.py": "",
            "loop/__init__.py": "",
            "loop/a.py": "from . import b\n",
            "loop/b.py": "from .c import thing\n",
            "loop/c.py": "import labelloop.loop.a\nthing = 1\n",
        },
    )
    _, eager, lazy = checker.check(src)
    cycle = "labelloop.loop.a -> labelloop.loop.b -> labelloop.loop.c -> labelloop.loop.a"
    assert eager.problems == [cycle]
    assert lazy.problems == [cycle]

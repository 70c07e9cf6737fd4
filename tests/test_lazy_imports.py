"""The library and the command line load only what they use: ``import labelloop``, the quality
algorithms and ``labelloop --help`` never pull in the store, the server or the HTTP client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: What belongs to the store, the server, the HTTP client or model training.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "torch",
    "sklearn",
    "pandas",
    "labelloop.store",
    "labelloop.server",
    "labelloop.client",
    "labelloop.loop",
)


def _loaded_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """The ``watched`` modules in ``sys.modules`` after running ``code`` in a fresh
    interpreter."""
    probe = f"""
import json, sys
try:
{chr(10).join("    " + line for line in code.strip().splitlines())}
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {list(watched)!r} if m in sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(*args: str) -> str:
    argv = ["labelloop", *args]
    return f"import sys\nfrom labelloop.cli.main import app\nsys.argv = {argv!r}\napp()"


@pytest.mark.parametrize(
    "code",
    [
        "import labelloop",
        "import labelloop.quality",
        "import labelloop.quality.aggregation\nimport labelloop.quality.agreement",
        _cli("--help"),
        _cli("aggregate", "--help"),
        _cli("find-errors", "--help"),
    ],
    ids=["package", "quality", "aggregation", "help", "aggregate-help", "find-errors-help"],
)
def test_light_paths_import_nothing_heavy(code: str):
    assert _loaded_after(code) == []


def test_aggregate_runs_without_the_store_or_scikit_learn(tmp_path: Path):
    answers = tmp_path / "answers.csv"
    answers.write_text("item,annotator,label\nq1,a,x\nq1,b,x\nq2,a,y\nq2,b,x\n")
    run = _cli("aggregate", str(answers), "-o", str(tmp_path / "out.csv"))
    assert _loaded_after(run) == []
    assert (tmp_path / "out.csv").read_text().startswith("item,label,posterior\n")


def test_the_public_names_still_load_on_use():
    import labelloop
    from labelloop import Client, Project, Settings, connect, load_config, run_simulation

    assert {Client.__name__, Project.__name__, Settings.__name__} == {
        "Client",
        "Project",
        "Settings",
    }
    assert callable(connect) and callable(load_config) and callable(run_simulation)
    assert set(labelloop.__all__) <= set(dir(labelloop))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = labelloop.nope  # type: ignore[attr-defined]


#: What only training, judging or scoring models needs.
MODEL_WORK = ("sklearn", "pandas", "torch", "scipy.stats", "cleanlab")


@pytest.mark.parametrize("module", ["labelloop.loop.project", "labelloop.server.app"])
def test_handing_out_work_loads_no_model_machinery(module: str):
    assert _loaded_after(f"import {module}", MODEL_WORK) == []

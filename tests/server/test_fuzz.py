"""Schemathesis fuzzes every operation of the OpenAPI schema, as an admin on a store with a
project: no answer may be a 5xx, to valid requests (which must also get the answers the schema
describes) or to invalid ones (which must get a 4xx).

SQLite only: what is fuzzed is the server's validation and error mapping, the same on both
stores, and PostgreSQL would double a test that takes a while already. The operations run in one
test (each its own Hypothesis run) because schemathesis' lazy fixture loader does not work with
this pytest, and a schema loaded at import time would need an app built at import time.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import Project
from labelloop.server.app import create_app
from labelloop.settings import Settings

API = "/api/v1"
PROJECT = {"name": "demo", "labels": ["neg", "pos"], "retrain": {"every": 1000, "min_labels": 6}}
EXAMPLES = 25
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


def _fuzz(operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    checks = CHECKS if mode is GenerationMode.POSITIVE else [not_a_server_error]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        # Half the cases name the existing project, so they get past the 404.
        params = case.path_parameters or {}
        if "name" in params and len(str(params["name"])) % 2:
            params["name"] = "demo"
        case.call_and_validate(headers=headers, checks=checks)

    run()


def test_no_operation_answers_5xx(tmp_path: Path) -> None:
    app_settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/s.db")
    app = create_app(app_settings)
    with TestClient(app) as client:
        engine = app.state.engine
        admin = create_user(engine, "admin", "x" * 12, "admin")
        headers = {"Authorization": f"Bearer {create_token(engine, admin, 'fuzz')}"}
        project = Project.create(PROJECT, engine=engine, settings=app_settings, retrain="off")
        rows = "".join(f'{{"id": {i}, "text": "film {i}"}}\n' for i in range(12))
        (tmp_path / "demo.jsonl").write_text(rows)
        project.import_file(tmp_path / "demo.jsonl")
        project.close()
        schema = schemathesis.openapi.from_dict(client.get(f"{API}/openapi.json").json())
        schema.app = app
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, headers)
                except Unsatisfiable:
                    if mode is GenerationMode.POSITIVE:
                        raise
                    # Nothing of the request can be invalid: no body, no bounded parameter.
                except (Exception, BaseExceptionGroup) as exc:  # report every operation's
                    failures.append(f"{operation.label} ({mode.value}): {exc}"[:3000])
    assert not failures, "\n\n".join(failures)

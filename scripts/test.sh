#!/usr/bin/env bash
# Install labelloop with its test extras into .venv, lint, and run the whole test suite
# (SQLite and PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build first, so sentence-transformers does not pull the CUDA one.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[dev,embeddings,hf,ray]'
.venv/bin/ruff check src tests benchmarks
# Ray is installed above, so its tests (a local Ray instance) must run, not skip.
export LABELLOOP_REQUIRE_RAY=1
.venv/bin/python -m pytest "$@"

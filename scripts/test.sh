#!/usr/bin/env bash
# Install labelloop with its test extras into .venv, lint, and run the whole test suite
# (SQLite and PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build first, so sentence-transformers does not pull the CUDA one.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[dev,embeddings,hf]'
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest "$@"

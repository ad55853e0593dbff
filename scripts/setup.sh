#!/usr/bin/env bash
# Create .venv at the repository root and install the project (idempotent: a second
# run with unchanged pyproject.toml/constraints.txt does nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  find_links=()
  # The CPU wheel of torch 2.13.0 is cached here; PyPI's torch pulls CUDA packages.
  [ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
  .venv/bin/pip install -q --disable-pip-version-check "${find_links[@]}" -c constraints.txt torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check "${find_links[@]}" -c constraints.txt -e ".[test,dask]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

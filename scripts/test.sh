#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, integration tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real servers and checkers for the deploy tests: Prometheus (and promtool), amtool
# (Alertmanager) and docker-compose (v1), from Debian's packages; installed once, only
# where missing.
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec .venv/bin/python -m pytest -q "$@"

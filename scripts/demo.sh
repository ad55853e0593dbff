#!/usr/bin/env bash
# Set up (first run only) and run the demo: embedded broker, sample data, model
# trained if none exists, worker, replay, intents printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/intent demo "$@"

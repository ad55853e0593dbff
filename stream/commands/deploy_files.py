"""Where the files of ``deploy/`` are: the Grafana dashboard, the Prometheus config and
alert rules, the Alertmanager config.

A source checkout has them in the repository's ``deploy/``; an installed wheel (or the
Docker image) carries them as package data in ``stream/deploy`` (pyproject.toml maps
the one to the other), so ``intent report`` finds the dashboard either way.

>>> (DEPLOY_DIR / "grafana" / "dashboards" / "intent.json").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

from stream.config import REPO_ROOT

__all__ = ["DEPLOY_DIR"]

_PACKAGED = Path(__file__).resolve().parents[1] / "deploy"
DEPLOY_DIR = _PACKAGED if _PACKAGED.is_dir() else REPO_ROOT / "deploy"

"""The worker refuses a faust-streaming release its patches were not written for."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from stream.runtime.faust_version import PATCHED_FAUST, FaustVersionError, check_faust_version


def test_the_installed_release_is_the_patched_one_and_the_pin() -> None:
    from stream.config import REPO_ROOT

    assert metadata.version("faust-streaming") == PATCHED_FAUST
    check_faust_version()
    assert f'"faust-streaming=={PATCHED_FAUST}"' in (REPO_ROOT / "pyproject.toml").read_text()


def test_another_release_is_refused_with_the_fix() -> None:
    with pytest.raises(
        FaustVersionError,
        match=r"faust-streaming 0\.16\.0 is installed.*"
        rf"pip install faust-streaming=={PATCHED_FAUST}",
    ):
        check_faust_version("0.16.0")


def test_the_app_does_not_start_on_another_release() -> None:
    # a fresh interpreter: in this one Faust may already be patched
    code = (
        "import importlib.metadata as m; real = m.version; "
        "m.version = lambda n: '0.16.0' if n == 'faust-streaming' else real(n); "
        "import stream.runtime.app"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "FaustVersionError: faust-streaming 0.16.0 is installed" in proc.stderr

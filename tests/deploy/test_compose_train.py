"""The compose ``train`` service, run as compose runs it, on the layout compose gives it.

In Docker the model volume's root is a mount point, and the kernel refuses to rename a
mount point (EBUSY); the artifact writer renames directories beside its output. So the
test mounts a tmpfs on a temporary directory, in a private mount namespace (``unshare
-m``: nothing leaks to the host, and it needs no Docker), checks that renaming it does
fail, and runs there the service's own command with the environment of the image and
of the service, its paths moved under the temporary directory.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from models.artifact import load_artifact
from tests.deploy.test_deploy_files import DEPLOY, compose_config

CUT_ROWS = 12_000  # per monthly action file: enough minutes of each month for a validation and a test day


@pytest.fixture(scope="module")
def small_sample(jdata_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JD.com sample with each action file cut to its first rows (enough purchases
    in every split); the user, product and comment files whole."""
    out = tmp_path_factory.mktemp("jdata-cut")
    for f in sorted(jdata_dir.glob("*.csv.gz")):
        if "Action" in f.name:
            with gzip.open(f, "rt") as src:
                head = [next(src) for _ in range(CUT_ROWS + 1)]
            with gzip.open(out / f.name, "wt") as dst:
                dst.writelines(head)
        else:
            shutil.copy(f, out / f.name)
    return out


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's final stage."""
    final = re.split(r"^FROM ", (DEPLOY / "Dockerfile").read_text(), flags=re.M)[-1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", final, flags=re.M):
        env.update(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))
    return env


class TrainService:
    """The ``train`` service's command and environment, its container paths mapped to
    host paths: the model volume to ``volume``, the data mount to ``data``."""

    def __init__(self, volume: Path, data: Path) -> None:
        svc = compose_config()["services"]["train"]
        env = {**image_env(), **svc.get("environment", {})}
        mounts = {v.split(":")[0]: PurePosixPath(v.split(":")[1]) for v in svc["volumes"]}
        self.volume_root = mounts.pop("model")
        (data_target,) = mounts.values()
        self.model_dir = PurePosixPath(env["INTENT_MODEL_DIR"])
        assert PurePosixPath(env["INTENT_SAMPLE_DATA"]) == data_target
        self.host_model_dir = volume / self.model_dir.relative_to(self.volume_root)
        # `$$` is compose's escape of `$`; the command runs under the entrypoint
        self.argv = [*svc["entrypoint"], *(c.replace("$$", "$") for c in svc["command"])]
        self.env = {
            **os.environ,
            "INTENT_MODEL_DIR": str(self.host_model_dir),
            "INTENT_SAMPLE_DATA": str(data),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            # speed only: LightGBM's two OpenMP threads spin-wait for each other, and
            # with the other core busy its fit took 0.2-27 s (measured); passive: 0.2 s
            "OMP_WAIT_POLICY": "PASSIVE",
        }


def private_mounts() -> list[str]:
    """``unshare`` arguments for a private mount namespace, or skip where there is none."""
    for args in (["unshare", "-m"], ["unshare", "-Urm"]):
        if shutil.which("unshare") and subprocess.run([*args, "true"], capture_output=True).returncode == 0:
            return args
    pytest.skip("no private mount namespace here (unshare -m / -Urm refused)")


def test_the_artifact_is_a_subdirectory_of_the_volume_and_the_worker_reads_it(tmp_path: Path) -> None:
    svc = TrainService(tmp_path / "volume", tmp_path / "data")
    assert svc.model_dir.parent == svc.volume_root  # never the mount point itself
    worker = compose_config()["services"]["worker"]
    assert f"model:{svc.volume_root}:ro" in worker["volumes"]
    assert {**image_env(), **worker.get("environment", {})}["INTENT_MODEL_DIR"] == str(svc.model_dir)


def test_train_on_a_mount_point_writes_the_artifact_and_a_retrain_swaps_it_in(
    small_sample: Path, tmp_path: Path
) -> None:
    volume, out = tmp_path / "volume", tmp_path / "out"
    volume.mkdir()
    out.mkdir()
    svc = TrainService(volume, small_sample)
    model = svc.host_model_dir
    steps = f"""
        mount -t tmpfs tmpfs '{volume}' || exit 97
        mv '{volume}' '{volume}.renamed' 2>'{out}/mv.err'; echo $? > '{out}/mv.rc'
        "$@" > '{out}/first.log' 2>&1; echo $? > '{out}/first.rc'
        cp -r '{model}' '{out}/first'
        "$@" > '{out}/again.log' 2>&1; echo $? > '{out}/again.rc'
        intent train "$INTENT_SAMPLE_DATA" --registry "$INTENT_MODEL_DIR" --quick --promote \
            > '{out}/retrain.log' 2>&1
        echo $? > '{out}/retrain.rc'
        cp -r '{model}' '{out}/retrained'
        ls -A '{volume}' > '{out}/volume.ls'
    """
    proc = subprocess.run(
        [*private_mounts(), "sh", "-c", steps, "sh", *svc.argv],
        env=svc.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr

    def read(name: str) -> str:
        return (out / name).read_text().strip()

    # the honest part: the volume root really is a mount point the kernel will not rename
    assert read("mv.rc") != "0" and "busy" in read("mv.err").lower()
    assert read("first.rc") == "0", read("first.log")
    first = load_artifact(out / "first").manifest
    # the service's command again: the model is there, nothing is trained
    assert read("again.rc") == "0" and "already" in read("again.log")
    assert read("retrain.rc") == "0", read("retrain.log")
    second = load_artifact(out / "retrained").manifest
    assert second["model_version"] != first["model_version"]
    # a new version beside the first in the registry, promoted; nothing else in the volume
    assert read("volume.ls").split() == [model.name]
    assert sorted(p.name for p in (out / "retrained" / "versions").iterdir()) == sorted(
        [first["model_version"], second["model_version"]]
    )
    assert second["library_versions"]


def test_train_says_in_one_line_how_to_give_it_data_when_the_mount_is_empty(tmp_path: Path) -> None:
    (tmp_path / "volume").mkdir()
    (tmp_path / "data").mkdir()
    svc = TrainService(tmp_path / "volume", tmp_path / "data")
    proc = subprocess.run(svc.argv, env=svc.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "no data in" in line and "set INTENT_SAMPLE_DATA" in line and "README" in line
    assert not svc.host_model_dir.exists()

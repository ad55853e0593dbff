"""The layers' rules, read from the code's own imports (``ast``): the arrows point down.

* ``stream.domain`` (the shared bottom layer) imports nothing else of ours;
* ``models`` imports only ``stream.domain`` of ours;
* ``training`` imports only ``models`` and ``stream.domain``;
* the rest of ``stream`` never imports ``training``, except the command line and the bench
  (the top floor: ``intent train``, and the bench trains a model when none exists);
* ``stream.archive`` (``intent archive``) is a plain consumer: no Faust runtime, no tables,
  no model;
* no cycle between packages (``stream.domain``, ``stream.processing``, ..., ``models``,
  ``training``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("stream", "models", "training")


def _package(module: str) -> str:
    """``stream.domain.state`` -> ``stream.domain``; ``stream.config`` -> itself;
    ``models.forest`` -> ``models``."""
    parts = module.split(".")
    if parts[0] == "stream":
        return ".".join(parts[:2])  # a subpackage, or a module of stream's own (config, lazy)
    return parts[0]


def _imports() -> dict[str, set[str]]:
    """Package -> the packages of ours its modules import (functions' imports included)."""
    arrows: dict[str, set[str]] = {}
    for top in OURS:
        for path in (ROOT / top).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            src = _package(module)
            for node in ast.walk(ast.parse(path.read_text())):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                for name in names:
                    if name.split(".")[0] in OURS and name not in ("stream",):
                        arrows.setdefault(src, set()).add(_package(name))
    for src in arrows:
        arrows[src].discard(src)
        arrows[src].discard("stream")  # `from stream import x`: x's own package is the arrow
    return arrows


def test_lower_layers_never_import_higher_ones() -> None:
    arrows = _imports()
    assert arrows.get("stream.domain", set()) == set(), arrows.get("stream.domain")
    assert arrows.get("models", set()) <= {"stream.domain"}, arrows["models"]
    assert arrows.get("training", set()) <= {"models", "stream.domain"}, arrows["training"]
    for src, dsts in arrows.items():
        if src.startswith("stream") and src not in ("stream.commands", "stream.bench"):
            assert "training" not in dsts, f"{src} imports training"
    archive = arrows.get("stream.archive", set())
    assert archive and not archive & {"stream.runtime", "stream.store", "models", "training"}, archive


def test_no_cycle_between_packages() -> None:
    arrows = _imports()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(arrows.get(node, ())):
            assert state.get(nxt) != 1, "cycle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(arrows):
        if node not in state:
            visit(node, [])


def test_the_walk_sees_the_known_arrows() -> None:
    """The test is not vacuous: arrows that must exist are found."""
    arrows = _imports()
    assert "stream.domain" in arrows["models"] and "models" in arrows["training"]
    assert "stream.processing" in arrows["stream.runtime"] and "training" in arrows["stream.commands"]


def test_no_module_over_400_lines() -> None:
    """Big rooms hold two concepts: split them before they grow past 400 lines."""
    long = {
        str(p.relative_to(ROOT)): n
        for top in OURS
        for p in (ROOT / top).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long


def test_no_feature_column_by_number_outside_the_layout() -> None:
    """A column of U or I is read by its name in the layout (stream/domain/feature_spec.py),
    never by a number (``U[:, 15]``)."""
    pattern = re.compile(r"\b[UI](?:_rows\([^)]*\))?\[\s*:\s*,\s*\d")
    found = [
        f"{p.relative_to(ROOT)}:{k}"
        for top in OURS
        for p in (ROOT / top).rglob("*.py")
        for k, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and "doctest" not in line and not line.lstrip().startswith(">>>")
    ]
    assert not found, found


def test_the_architecture_notes_list_every_module() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "module_map.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr

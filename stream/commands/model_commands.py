"""The commands that manage and judge models: ``intent models list|promote|rollback|prune``,
the registry side of ``intent train``, ``intent compare`` and ``intent skew``.

A registry (:mod:`models.registry`) is where ``INTENT_MODEL_DIR`` points by default.
With ``INTENT_MODEL_SYNC=kafka`` every version written and every pointer change is also
published to ``INTENT_TOPIC_MODELS`` (:mod:`stream.io.model_topic`), which workers on
other machines mirror into their own registry copy.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from models.registry import ModelRegistry, RegistryError, is_registry
from stream.config import Settings

__all__ = ["cmd_models", "train_into_registry", "cmd_compare", "cmd_skew", "registry_of"]


def registry_of(settings: Settings, path: str | None = None) -> ModelRegistry:
    return ModelRegistry(Path(path) if path else settings.model_dir, keep=settings.model_keep)


def _publish(settings: Settings, registry: ModelRegistry, version: str | None, pointer: bool) -> None:
    """With ``INTENT_MODEL_SYNC=kafka``: ``version``'s files and/or the pointer to the topic."""
    if settings.model_sync != "kafka":
        return
    from stream.io.model_topic import publish_pointer, publish_version

    if version is not None:
        asyncio.run(publish_version(settings, registry, version))
    if pointer:
        asyncio.run(publish_pointer(settings, registry))


def _prune(settings: Settings, registry: ModelRegistry, log: Callable[[str], None]) -> None:
    removed = registry.prune(protect=(settings.challenger,))
    if removed:
        log(f"pruned {len(removed)} old version(s) (INTENT_MODEL_KEEP={registry.keep}): {', '.join(removed)}")
        if settings.model_sync == "kafka":
            from stream.io.model_topic import forget_versions

            asyncio.run(forget_versions(settings, removed))


def train_into_registry(
    root: Path, train: Callable[[Path], dict[str, Any]], promote: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Train (``train(out)``) into a new version of the registry at ``root``, never over
    the served one; promoted when asked, or when nothing is served yet."""
    settings = Settings.from_env(model_dir=str(root))
    registry = registry_of(settings)
    served = registry.current()
    version, report = registry.add_written(train, promote)
    log(f"registry {root}: added version {version}")
    _publish(settings, registry, version, pointer=False)
    if registry.current() == version:
        log(f"promoted {version} (was {served or 'none'})")
        _publish(settings, registry, None, pointer=True)
    else:
        log(f"serving {registry.current()} still: promote it with `intent models promote {version}`")
    _prune(settings, registry, log)
    return dict(report)


def cmd_models(args: argparse.Namespace) -> int:
    settings = Settings.from_env(model_dir=args.registry)
    registry = registry_of(settings)
    if not is_registry(registry.root) and args.action != "list":
        raise RegistryError(f"{registry.root} is not a model registry (it has no versions/)")
    if args.action == "list":
        pointer = registry.pointer()
        roles = {settings.challenger: "challenger"} if settings.challenger else {}
        if pointer is not None:
            roles.update({v: "previous" for v in pointer.previous[:1]} | {pointer.version: "current"})
        print(f"{'version':<34} {'created (UTC)':<20} {'role':<11} {'test PR-AUC':>11} {'threshold':>9}")
        for info in registry.versions():
            manifest = orjson.loads((info.path / "manifest.json").read_bytes())
            pr_auc = manifest.get("metrics", {}).get("fused", {}).get("pr_auc")
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info.created))
            print(
                f"{info.version:<34} {created:<20} {roles.get(info.version, ''):<11} "
                f"{pr_auc if pr_auc is not None else '':>11} {manifest['fusion']['threshold']:>9.4g}"
            )
        return 0
    if args.action == "promote":
        old, new = registry.promote(args.version)
        _publish(settings, registry, new, pointer=True)
        print(f"promoted {new} (was {old or 'none'}); workers follow within INTENT_MODEL_POLL_S")
    elif args.action == "rollback":
        old, new = registry.rollback()
        _publish(settings, registry, new, pointer=True)
        print(f"rolled back from {old} to {new}; workers follow within INTENT_MODEL_POLL_S")
    elif args.action == "prune":
        _prune(settings, registry, print)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from stream.commands.compare import compare_from_prometheus, compare_from_topics, render

    settings = Settings.from_env(bootstrap=args.bootstrap)
    if args.prometheus:
        result = compare_from_prometheus(args.prometheus, args.window)
    else:
        from stream.io.kafka import check_reachable

        asyncio.run(check_reachable(settings))
        result = asyncio.run(compare_from_topics(settings, args.horizon_min))
    print(render(result, args.json))
    return 0


def cmd_skew(args: argparse.Namespace) -> int:
    from stream.commands.skew import measure_skew, render_skew
    from stream.io.kafka import check_reachable

    settings = Settings.from_env(bootstrap=args.bootstrap, model_dir=args.model)
    asyncio.run(check_reachable(settings))
    report = asyncio.run(measure_skew(settings, args.data, args.format))
    print(render_skew(report, args.json))
    return 1 if report["pairs"] and report["differing_pairs"] else 0

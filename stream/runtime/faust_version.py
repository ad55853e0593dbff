"""The one faust-streaming release the worker runs on.

:mod:`stream.runtime.faust_patches` replaces methods of Faust's consumer, and
:mod:`stream.runtime.intake`, :mod:`stream.runtime.tables` and :mod:`stream.runtime.worker` reach
into its internals. Those were read and tested against this release only; on another, a changed
signature or attribute would fail in the middle of a stream, or silently drop the
guarantees the patches add. :func:`check_faust_version` refuses to start instead.
pyproject.toml pins the same version.

>>> check_faust_version(PATCHED_FAUST)
>>> check_faust_version("0.11.0")  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
stream.runtime.faust_version.FaustVersionError: faust-streaming 0.11.0 is installed, but the
worker's changes to Faust (stream/runtime/faust_patches.py) are written for 0.15.3 only:
pip install faust-streaming==0.15.3
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["PATCHED_FAUST", "FaustVersionError", "check_faust_version"]

PATCHED_FAUST = "0.15.3"


class FaustVersionError(RuntimeError):
    """The installed faust-streaming is not the release the patches were written for."""


def check_faust_version(installed: str | None = None) -> None:
    """Raise :class:`FaustVersionError` unless ``installed`` (default: the installed
    faust-streaming) is :data:`PATCHED_FAUST`."""
    if installed is None:
        try:
            installed = metadata.version("faust-streaming")
        except metadata.PackageNotFoundError:
            installed = "none"
    if installed != PATCHED_FAUST:
        raise FaustVersionError(
            f"faust-streaming {installed} is installed, but the worker's changes to Faust "
            f"(stream/runtime/faust_patches.py) are written for {PATCHED_FAUST} only: "
            f"pip install faust-streaming=={PATCHED_FAUST}"
        )

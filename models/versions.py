"""The library versions a model artifact was written with, and the check that refuses
to serve it with others.

``forest.pkl`` is a pickle of scikit-learn forests, and numpy arrays inside them;
``resnet.pt`` is a torch state dict. A pickle restored by another release of its library
can fail, or worse, load and predict differently. So the manifest
records the versions (:func:`library_versions`) and loading compares them with the
installed ones (:func:`version_mismatch`). Local build labels (``2.13.0+cpu``) are
ignored: a CPU and a CUDA build of one torch release read the same weights. A manifest
written before versions were recorded is served with a logged warning.

>>> sorted(library_versions()) == sorted(LIBRARIES)
True
>>> version_mismatch({"library_versions": library_versions()}) is None
True
>>> version_mismatch({"library_versions": {**library_versions(), "numpy": "1.0.0"}}, "model")
... # doctest: +ELLIPSIS
'model: written with numpy 1.0.0, but this environment has numpy ...: install ... or retrain'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = ["LIBRARIES", "library_versions", "version_mismatch"]

log = logging.getLogger(__name__)

# distribution names
LIBRARIES = ("torch", "scikit-learn", "numpy")
MANIFEST_KEY = "library_versions"

_warned: set[str] = set()


def _installed(name: str) -> str:
    try:
        return metadata.version(name).split("+")[0]
    except metadata.PackageNotFoundError:
        return "none"


def library_versions() -> dict[str, str]:
    """The installed version of each library in :data:`LIBRARIES`."""
    return {name: _installed(name) for name in LIBRARIES}


def version_mismatch(manifest: Mapping[str, Any], where: str = "artifact") -> str | None:
    """None when the versions ``manifest`` records are the installed ones (or it records
    none: then a warning is logged once per ``where``); else the sentence that says
    which differ."""
    recorded = manifest.get(MANIFEST_KEY)
    if recorded is None:
        if where not in _warned:
            _warned.add(where)
            log.warning(
                "%s: the manifest does not record the library versions it was written "
                "with (an older artifact); serving it unchecked",
                where,
            )
        return None
    installed = library_versions()
    differ = sorted(n for n in LIBRARIES if n in recorded and str(recorded[n]).split("+")[0] != installed[n])
    if not differ:
        return None
    then = ", ".join(f"{n} {recorded[n]}" for n in differ)
    now = ", ".join(f"{n} {installed[n]}" for n in differ)
    pins = " ".join(f"{n}=={recorded[n]}" for n in differ)
    return f"{where}: written with {then}, but this environment has {now}: install {pins} or retrain"

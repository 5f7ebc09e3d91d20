"""Compiled or interpreted: which form of the analysis this process runs (setup.py).

The modules of `trustnet._build.COMPILED` are built beside their sources, and Python imports
a built module before its source. A source edited after the build would then be ignored:
instead, when any of them differs from what was compiled (setup.py wrote down their digests
in trustnet/_analysis.sources.json), or the build is incomplete, or `TRUSTNET_PURE_PYTHON=1`,
every one of them is imported from its source (inside the build they call each other: all or
none). The results are the same either way, only the speed differs."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from trustnet._build import COMPILED, GROUP

T = TypeVar("T")
_ROOT = Path(__file__).resolve().parent.parent
SOURCES = "_analysis.sources.json"  # what the build was made from (setup.py writes it)
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
_REBUILD = "scripts/test and scripts/demo build it again; or `python setup.py build_ext --inplace`"


def _built(path: Path) -> bool:
    """Whether an extension module was built beside `path` (a .py)."""
    return path.with_name(path.stem + _SUFFIX).is_file()


def why_interpreted(root: Path = _ROOT) -> str | None:
    """Why the analysis under `root` runs as Python (None: it runs compiled)."""
    if os.environ.get("TRUSTNET_PURE_PYTHON", "") not in ("", "0"):
        return "TRUSTNET_PURE_PYTHON is set"
    if not _built(root / (GROUP.replace(".", "/") + "__mypyc.py")):
        return "not built (no mypyc or no C compiler at install, or TRUSTNET_COMPILE=0)"
    try:
        compiled = json.loads((root / "trustnet" / SOURCES).read_text())
    except (OSError, ValueError):
        return f"what it was built from is unknown ({_REBUILD})"
    if not isinstance(compiled, dict) or set(compiled) != set(COMPILED):
        return f"it was built from another list of modules ({_REBUILD})"
    for rel in COMPILED:
        src = root / rel
        if not _built(src):
            return f"{rel} was not built ({_REBUILD})"
        if compiled.get(rel) != hashlib.sha256(src.read_bytes()).hexdigest():
            return f"{rel} changed since it was built ({_REBUILD})"
    return None


class _Sources:
    """A meta path finder: a trustnet module from its source wherever a build beside it is
    not to be run: every built module while the analysis runs interpreted, and always a
    build left from an older list of compiled modules (`trustnet._build`)."""

    def __init__(self, compiled: bool, root: Path = _ROOT) -> None:
        self.run_built = {rel[:-3].replace("/", ".") for rel in COMPILED} if compiled else set()
        self.root = root

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not name.startswith("trustnet.") or name in self.run_built:
            return None
        src = self.root.joinpath(*name.split(".")).with_suffix(".py")
        if not _built(src) or not src.is_file():
            return None  # nothing built beside it (most modules): the usual import
        return importlib.util.spec_from_file_location(name, src)


_REASON = why_interpreted()
sys.meta_path.insert(0, _Sources(_REASON is None))


def fields_set_once(cls: type[T]) -> type[T]:
    """`cls`, a record written out for the compiler, read-only as the frozen dataclass it
    replaces: each field is set once, by `__init__` (compiled, `__init__` sets them directly),
    and any later assignment or deletion raises `dataclasses.FrozenInstanceError`, in
    either form. A type that takes no new attributes is left as it is."""

    def set_once(self: object, name: str, value: object) -> None:
        try:
            getattr(self, name)
        except AttributeError:
            object.__setattr__(self, name, value)
            return
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def no_delete(self: object, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    try:
        cls.__setattr__ = set_once  # type: ignore[method-assign]
        cls.__delattr__ = no_delete  # type: ignore[method-assign]
    except TypeError:
        pass  # not a heap type: nothing to add
    return cls


def analysis_compiled() -> bool:
    """Whether this process runs the analysis compiled (`interpreted_because` says why not)."""
    return _REASON is None


def interpreted_because() -> str | None:
    """Why the analysis runs as Python in this process, or None."""
    return _REASON

"""The compiled parts of trustnet, all optional: where no C compiler (or no mypyc) is found
the install goes on without them and trustnet runs in Python alone (same results, slower).

- `trustnet._canonical`: the payload check the ingest workers run on every entry
  (trustnet/_canonical.c; without it trustnet/log/entry.py checks in Python).
- `trustnet._numeric`: exactly rounded sums of float64 arrays, as the belief engine fuses a
  party's facts (trustnet/_numeric.c; without it trustnet/numeric.py asks math.fsum).
- The analysis (`trustnet._build.COMPILED`: belief engine, rules, suspicion), compiled from
  its own Python source by mypyc. `TRUSTNET_COMPILE=0` at install leaves it interpreted;
  `TRUSTNET_PURE_PYTHON=1` at run time ignores what was built (trustnet/_source.py).

Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

BUILD: dict[str, Any] = {}
exec(Path(__file__).with_name("trustnet").joinpath("_build.py").read_text(), BUILD)
SOURCES = "_analysis.sources.json"  # beside the group's library: what it was compiled from
DIGESTS: dict[str, str] = {}  # of the sources mypyc compiled, as it read them
# The commands that build extensions (pip's build hooks run setup.py with one of them).
BUILDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def digest(rel: str) -> str:
    """The digest `trustnet._source` compares a compiled module's source by."""
    return hashlib.sha256(Path(rel).read_bytes()).hexdigest()


class BuildExt(build_ext):
    """`build_ext` compiling the C files of each extension side by side, one per core (the
    analysis is ~40 of them: about a minute on one core, half on two), then writing down
    which sources the analysis was compiled from (`trustnet._source` compares)."""

    def run(self) -> None:
        # What the last build was compiled from, forgotten first: written again below only
        # when this build made the group's library (a failed or skipped compile leaves the
        # last library in place, which must not pass for the build of these sources).
        package = Path(self.build_lib if not self.inplace else ".", "trustnet")
        package.joinpath(SOURCES).unlink(missing_ok=True)
        self.built_group = False
        super().run()
        if ANALYSIS and DIGESTS and self.built_group:
            package.joinpath(SOURCES).write_text(json.dumps(DIGESTS, indent=0, sort_keys=True))

    def build_extension(self, ext: Extension) -> None:
        one_by_one = self.compiler.compile

        def compile_all(sources: list[str], *args: Any, **kwargs: Any) -> list[str]:
            with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                done = pool.map(lambda src: one_by_one([src], *args, **kwargs), sources)
                return [obj for objs in done for obj in objs]

        self.compiler.compile = compile_all
        try:
            super().build_extension(ext)  # raises when it fails (optional: caught by run)
        finally:
            self.compiler.compile = one_by_one
        if ext.name == str(BUILD["GROUP"]) + "__mypyc":
            self.built_group = True


def analysis() -> list[Extension]:
    """The mypyc extensions of the analysis, or none (said why on stderr)."""
    if os.environ.get("TRUSTNET_COMPILE", "1") == "0":
        return []
    if not BUILDS.intersection(sys.argv[1:]):
        return []  # metadata only (pip asks for it first): no need to type-check it all
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("trustnet: mypyc not found: the analysis stays interpreted", file=sys.stderr)
        return []
    DIGESTS.update((rel, digest(rel)) for rel in BUILD["COMPILED"])
    try:
        # multi_file: one C file per module, compiled in parallel below (one 30 MB file
        # takes a core ~2 minutes).
        # Not pyproject's strict checks (scripts/test runs those): only what compiling
        # needs, where the install's build environment may lack the other dependencies' types.
        exts = mypycify(["--config-file=", "--ignore-missing-imports", *BUILD["COMPILED"]],
                        opt_level="3", multi_file=True, group_name=str(BUILD["GROUP"]))
    except (Exception, SystemExit) as e:  # a mypy error ends in SystemExit
        print(f"trustnet: mypyc failed ({e}): the analysis stays interpreted", file=sys.stderr)
        return []
    # A dotted group name puts the group's headers under build/trustnet/, where the
    # per-module C files of multi_file do not look.
    headers = os.path.join("build", *str(BUILD["GROUP"]).split(".")[:-1])
    for ext in exts:
        ext.include_dirs.append(headers)
        ext.optional = True  # a failed compile leaves it interpreted (trustnet/_source.py)
    return exts


ANALYSIS = analysis()
setup(
    ext_modules=[
        Extension("trustnet._canonical", ["trustnet/_canonical.c"], optional=True),
        # No fused multiply-add: the loops must give the floats their numpy form gives.
        Extension("trustnet._numeric", ["trustnet/_numeric.c"], optional=True,
                  extra_compile_args=["-ffp-contract=off"]),
        *ANALYSIS,
    ],
    cmdclass={"build_ext": BuildExt},
)

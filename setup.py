"""The compiled parts of trustnet, both optional: where no C compiler is found the install
goes on without them and trustnet runs in Python alone (same results, slower).

- `trustnet._canonical`: the payload check the ingest workers run on every entry
  (trustnet/_canonical.c; without it trustnet/log/entry.py checks in Python).
- `trustnet._numeric`: exactly rounded sums of float64 arrays, as the belief engine fuses a
  party's facts (trustnet/_numeric.c; without it trustnet/numeric.py asks math.fsum).

Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("trustnet._canonical", ["trustnet/_canonical.c"], optional=True),
    # No fused multiply-add: the loops must give the floats their numpy form gives.
    Extension("trustnet._numeric", ["trustnet/_numeric.c"], optional=True,
              extra_compile_args=["-ffp-contract=off"]),
])

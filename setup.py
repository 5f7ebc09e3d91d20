"""The one compiled part of trustnet: `trustnet._canonical`, the payload check the ingest
workers run on every entry (trustnet/_canonical.c). Optional: where no C compiler is found
the install goes on without it and trustnet/log/entry.py checks in Python (same results,
slower ingest). Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("trustnet._canonical", ["trustnet/_canonical.c"], optional=True)])

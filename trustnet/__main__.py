"""`python -m trustnet` runs the command-line interface."""

from trustnet.cli import entrypoint

entrypoint()

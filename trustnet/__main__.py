"""`python -m trustnet` runs the command-line interface."""

from trustnet.cli.main import entrypoint

entrypoint()

"""The `trustnet` command line (DESIGN 9). `main` builds the parser and runs a command."""

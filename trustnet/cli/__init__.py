"""The `trustnet` command line (DESIGN 9). `main` builds the parser and runs a command.

One module per command family: node (init, publish, run), keys (key rotate/next), read
(status, parties, entries, forks, peers, beliefs, suspicion), desk (compliance, calendar,
report), bundles (export, import, verify), lab (testbed, bench); target reads a node by
`DIR-or-URL` for every read command, output prints.
"""

"""The local multi-node testbed (DESIGN 10): `cluster` runs N real nodes on loopback; `scenario` plays timed statements and faults on them and checks expectations."""

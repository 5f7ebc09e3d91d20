"""The store layer (DESIGN 5): the replicas the gossip protocol is handed. `sqlite` is the durable one a node runs on; `memory` keeps the same rules in dicts, for the simulator and tests."""

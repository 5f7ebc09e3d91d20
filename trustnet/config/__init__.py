"""The node directory and its configuration: `loader` turns node.toml into typed records, `nodedir` creates a node directory, `keyfiles` keeps its keys, `ownlog` what it knows of its own log."""

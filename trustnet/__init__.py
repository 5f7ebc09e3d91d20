"""trustnet: a peer-to-peer trust network daemon for confidence-building measures."""

__version__ = "0.1.0"

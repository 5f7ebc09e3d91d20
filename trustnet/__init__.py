"""trustnet: a peer-to-peer trust network daemon for confidence-building measures."""

# Before any analysis module is imported: whether they run compiled or from their sources.
from trustnet import _source  # noqa: F401

__version__ = "0.1.0"

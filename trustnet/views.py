"""Views other layers contribute to a daemon's API: beliefs and suspicion over its store."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustnet.daemon import Daemon


def install_views(daemon: Daemon) -> None:
    """Register the contributed views on `daemon.views` (filled as layers land)."""

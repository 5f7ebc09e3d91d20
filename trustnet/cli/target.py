"""The one reader of a node named on the command line by `DIR-or-URL`.

Every read command takes a node's directory or its base URL. `Target` is that argument:
by URL it reads the node's JSON routes (with $TRUSTNET_TOKEN, for nodes whose reads need
it; https:// verified against --cacert, $TRUSTNET_CACERT or the system trust store); by
directory it opens the store read-only (beside a running node, which holds the write
lock), computes the node's views in process, or asks the node running on it through its
API with the directory's admin token.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustnet.config.loader import load_config
from trustnet.errors import StoreError
from trustnet.store.schema import DB_FILE
from trustnet.store.sqlite import Store

if TYPE_CHECKING:
    from trustnet.analysis.views import NodeViews
    from trustnet.api.client import NodeClient

TOKEN_ENV = "TRUSTNET_TOKEN"


def is_url(text: str) -> bool:
    """Whether a `DIR-or-URL` argument names a node by URL."""
    return text.startswith(("http://", "https://"))


def open_read(node_dir: Path) -> Store:
    """A node directory's store to read from, whether or not a node holds its write lock."""
    load_config(node_dir)  # a clear error when this is not a node directory
    if not (node_dir / DB_FILE).exists():
        raise StoreError(f"{node_dir} has no store yet", code="no_node")
    return Store.open_dir(node_dir, readonly=True)


def read_all(get: Callable[[str], Any], path: str, key: str) -> dict[str, Any]:
    """A paginated list route read whole: the first page's document with every page's items
    under `key`, following `next` (a list stops at 1000 items per page)."""
    sep = "&" if "?" in path else "?"
    whole: dict[str, Any] = get(f"{path}{sep}offset=0")
    offset = whole.pop("next", None)
    while offset is not None:
        page = get(f"{path}{sep}offset={offset}")
        whole[key] += page[key]
        offset = page.get("next")
    whole.pop("total", None)
    return whole


@dataclass(frozen=True, slots=True)
class Target:
    """A node named by its directory or its base URL (`text`), and the CA certificate that
    verifies it over https:// (`cacert`; None: $TRUSTNET_CACERT or the system trust store)."""

    text: str
    cacert: str | None = None

    @property
    def is_url(self) -> bool:
        """Whether the node is read over HTTP by its URL (else from its directory)."""
        return is_url(self.text)

    @property
    def node_dir(self) -> Path:
        """The node's directory (a directory target)."""
        return Path(self.text)

    def get(self, path: str) -> Any:
        """GET one of the node's JSON routes: by URL, or from the node running on the
        directory (with its admin token, by its own certificate under TLS)."""
        return self._getter()(path)

    def get_all(self, path: str, key: str) -> dict[str, Any]:
        """A paginated list route read whole (see `read_all`), as `get` reads it."""
        return read_all(self._getter(), path, key)

    def store(self) -> Store:
        """The directory's store, opened read-only (see `open_read`)."""
        return open_read(self.node_dir)

    def views(self) -> NodeViews:
        """The node's views (beliefs, suspicion, the desk) computed from its directory."""
        from trustnet.analysis.views import local_views

        return local_views(self.text)

    def client(self) -> NodeClient:
        """The API client of the node running on the directory."""
        from trustnet.api.client import NodeClient

        return NodeClient.for_dir(self.node_dir, load_config(self.node_dir))

    def _getter(self) -> Callable[[str], Any]:
        if not self.is_url:
            return self.client().get
        from trustnet.api.client import get_json

        base = self.text.rstrip("/")
        return lambda path: get_json(base + path, token=os.environ.get(TOKEN_ENV) or None,
                                     cafile=self.cacert)

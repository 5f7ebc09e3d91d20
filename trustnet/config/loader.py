"""node.toml: the settings of one node, validated on load (every setting documented in
configs/node.example.toml with its default).

The top-level table holds the node's own settings; `[http]`, `[gossip]`, `[rules]`,
`[weights]`, `[trust]` and `[suspicion]` each become the frozen record of the component
that owns them, through one loader (`load_table`): the record's field types say what a
key takes, its `BOUNDS` the ranges, and every error names the table and the key
(`[gossip] fanout: expected an integer >= 1`, code `bad_config`). trustnet/node/settings.py
loads every table of a node at start (`NodeSettings`).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from trustnet.errors import ConfigError
from trustnet.identity import is_party_id

CONFIG_FILE = "node.toml"
TOKEN_FILE = "admin.token"
DEFAULT_LISTEN = "127.0.0.1:7400"
SECTIONS = ("http", "gossip", "rules", "weights", "trust", "suspicion", "people", "witness",
            "ingest")
LOG_FORMATS = ("human", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The validated contents of node.toml."""

    name: str = ""
    listen: str = DEFAULT_LISTEN
    peers: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    log_format: str = "human"
    log_level: str = "info"
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The address to listen on."""
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The port to listen on (0: any free port)."""
        return parse_listen(self.listen)[1]

    def section(self, name: str) -> dict[str, Any]:
        """The table `[name]`, empty when absent."""
        return dict(self.sections.get(name, {}))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str = CONFIG_FILE) -> NodeConfig:
        """Validate a parsed node.toml."""
        known = {"name", "listen", "peers", "anchors", "log_format", "log_level", *SECTIONS}
        for key in data:
            if key not in known:
                raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        name = _get(data, "name", str, "", where)
        listen = _get(data, "listen", str, DEFAULT_LISTEN, where)
        parse_listen(listen, where)
        peers = tuple(_get(data, "peers", list, [], where))
        for url in peers:
            check_url(url, f"{where}: peers")
        anchors = tuple(_get(data, "anchors", list, [], where))
        for anchor in anchors:
            if not is_party_id(anchor):
                raise ConfigError(f"{where}: anchors: {anchor!r} is not a party id (64 hex characters)")
        log_format = _get(data, "log_format", str, "human", where)
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"{where}: log_format must be one of {', '.join(LOG_FORMATS)}")
        log_level = _get(data, "log_level", str, "info", where)
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"{where}: log_level must be one of {', '.join(LOG_LEVELS)}")
        sections = {}
        for s in SECTIONS:
            if s in data:
                if not isinstance(data[s], dict):
                    raise ConfigError(f"{where}: [{s}] must be a table")
                sections[s] = data[s]
        return cls(name, listen, peers, anchors, log_format, log_level, sections)

    def to_toml(self) -> str:
        """Render as node.toml (the sections included)."""
        lines = [
            "# trustnet node settings; every setting is documented in configs/node.example.toml",
            f"name = {_toml(self.name)}",
            f"listen = {_toml(self.listen)}",
            f"peers = {_toml(list(self.peers))}",
            f"anchors = {_toml(list(self.anchors))}",
            f"log_format = {_toml(self.log_format)}",
            f"log_level = {_toml(self.log_level)}",
        ]
        for s in SECTIONS:
            table = self.sections.get(s)
            if table:
                lines += ["", f"[{s}]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML values.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # an inline table, e.g. [witness] urls
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _get(data: dict[str, Any], key: str, typ: type, default: Any, where: str) -> Any:
    value = data.get(key, default)
    if not isinstance(value, typ):
        raise ConfigError(f"{where}: {key} must be a {typ.__name__}, got {value!r}")
    return value


T = TypeVar("T")


_OPS = {">=": lambda v, x: v >= x, ">": lambda v, x: v > x, "<=": lambda v, x: v <= x,
        "<": lambda v, x: v < x}


def _bounds(spec: str) -> list[tuple[str, float]]:
    """`">= 0, <= 1"` -> [(">=", 0.0), ("<=", 1.0)] (a record's `BOUNDS` value)."""
    out = []
    for part in spec.split(","):
        op, _, value = part.strip().partition(" ")
        assert op in _OPS, spec
        out.append((op, float(value)))
    return out


def load_table(cls: type[T], data: object, table: str) -> T:
    """The one loader: a node.toml table into its frozen record `cls` (a dataclass).

    Keys are the record's fields; a field typed as a record takes a sub-table
    (`[table.field]`), or, when the record names it as `FLATTEN`, takes its keys in this
    table. Values are checked against the field's type (bool, int, float: an int is taken
    for a float, str, tuple[str, ...], Literal, X | None) and the record's `BOUNDS`
    (`{"fanout": ">= 1", "reliable": ">= 0, <= 1"}`; "*": every other number); then the
    record checks what spans fields (`__post_init__`, or `check()` when it has one).
    Errors are `bad_config`, naming the key. A record declares all this in a few lines
    and imports nothing.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{table}] must be a table, got {data!r}")
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    flatten: str = getattr(cls, "FLATTEN", "")
    own = {f.name: f for f in fields(cls) if f.init and f.name != flatten}
    inner: type[Any] | None = hints[flatten] if flatten else None
    inner_fields = {} if inner is None else {
        f.name: f for f in fields(inner) if f.init and _loadable(typing.get_type_hints(inner)[f.name])}
    inner_hints = {} if inner is None else typing.get_type_hints(inner)
    bounds: Mapping[str, str] = getattr(cls, "BOUNDS", {})
    bounds = {**getattr(inner, "BOUNDS", {}), **bounds}
    kwargs: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for key, value in data.items():
        where = f"[{table}] {key}"
        if key in own:
            hint = hints[key]
            if isinstance(hint, type) and is_dataclass(hint):
                kwargs[key] = load_table(hint, value, f"{table}.{key}")
                continue
            kwargs[key] = _value(value, hint, bounds.get(key, bounds.get("*", "")), where)
        elif key in inner_fields:
            nested[key] = _value(value, inner_hints[key], bounds.get(key, ""), where)
        else:
            known = ", ".join(sorted([*own, *inner_fields]))
            raise ConfigError(f"{where}: unknown setting (known: {known})")
    if inner is not None:
        kwargs[flatten] = inner(**nested)
    record = cls(**kwargs)
    check = getattr(record, "check", None)
    if callable(check):
        check()
    return record


def _loadable(hint: Any) -> bool:
    # Fields a table cannot spell (mappings of tuples, e.g. a policy's rate table) keep
    # their defaults.
    return typing.get_origin(hint) not in (Mapping, dict, typing.get_origin(Mapping[str, Any]))


def _value(value: Any, hint: Any, bounds: str, where: str) -> Any:
    """`value` checked against `hint` and `bounds` (ConfigError naming `where`)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType) and type(None) in args:
        if value is None:  # not in TOML; a record built from a mapping in code
            return None
        (hint,) = (a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int or hint is float:
        word = "an integer" if hint is int else "a number"
        ok = isinstance(value, int) if hint is int else (
            isinstance(value, int | float) and math.isfinite(value))
        limits = _bounds(bounds) if bounds else []
        if isinstance(value, bool) or not ok or not all(_OPS[op](value, x) for op, x in limits):
            said = " and ".join(f"{op} {int(x) if x.is_integer() else x}" for op, x in limits)
            raise ConfigError(f"{where}: expected {word}{' ' + said if said else ''}, "
                              f"got {value!r}")
        return value if hint is int else float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is tuple and args[1:] == (Ellipsis,) and args[0] is str:
        if not (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if origin in (Mapping, dict, typing.get_origin(Mapping[str, Any])) and args == (str, str):
        # a sub-table of strings, e.g. [witness] urls = { "<party id>" = "https://..." }
        if not (isinstance(value, Mapping)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            raise ConfigError(f"{where}: expected a table of strings, got {value!r}")
        return dict(value)
    if origin is Literal:
        if value not in args or isinstance(value, bool):
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, "
                              f"got {value!r}")
        return value
    raise ConfigError(f"{where}: this setting cannot be set in node.toml")


def parse_listen(listen: str, where: str = "listen") -> tuple[str, int]:
    """Split HOST:PORT, checking the port."""
    host, sep, port_s = listen.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise ConfigError(f"{where}: listen must be HOST:PORT (e.g. {DEFAULT_LISTEN}), got {listen!r}")
    return host.strip("[]"), int(port_s)


def check_url(url: object, where: str = "url") -> str:
    """An http(s) URL, or ConfigError."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise ConfigError(f"{where}: {url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


def load_config(node_dir: Path) -> NodeConfig:
    """Read and validate DIR/node.toml."""
    path = Path(node_dir) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{node_dir} is not a node directory: no {CONFIG_FILE} (run `trustnet init {node_dir}`)",
            code="no_node",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return NodeConfig.from_mapping(data, str(path))


def write_config(node_dir: Path, config: NodeConfig) -> None:
    """Write DIR/node.toml."""
    (Path(node_dir) / CONFIG_FILE).write_text(config.to_toml(), encoding="utf-8")


def new_admin_token(node_dir: Path) -> str:
    """Create DIR/admin.token (mode 0600) with a fresh random token."""
    token = secrets.token_urlsafe(32)
    fd = os.open(Path(node_dir) / TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def read_admin_token(node_dir: Path) -> str:
    """The admin token of a node directory, refused (`token_permissions`) when the file is
    accessible by group or others: whoever reads it acts as the operator (publish, peers)."""
    path = Path(node_dir) / TOKEN_FILE
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"no {TOKEN_FILE} in {node_dir}", code="no_node") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}", code="token_permissions")
    return path.read_text(encoding="utf-8").strip()

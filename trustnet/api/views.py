"""The read-only views other layers contribute to the API (ApiViews): the daemon registers
beliefs, suspicion, the desk's compliance and calendar and the rest here, and the API serves
them as GET routes (trustnet.api.contributed) and tells /events subscribers of their news."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JsonView = Callable[[Mapping[str, str]], Any]
PartyView = Callable[[str, Mapping[str, str]], Any]
Summary = Callable[[], Mapping[str, Mapping[str, Mapping[str, Any]]]]


@dataclass(slots=True)
class ApiViews:
    """Extra read-only views other layers contribute: name -> (collection view, per-party view).

    `summary`, when given, returns per party its headline `belief` and `suspicion` figures;
    `/events` tells subscribers when they change.
    """

    collections: dict[str, JsonView] = field(default_factory=dict)
    parties: dict[str, PartyView] = field(default_factory=dict)
    summary: Summary | None = None
    # Fields added to GET /status (e.g. the analysis' replay mode).
    status: Callable[[], Mapping[str, Any]] | None = None
    # Whether an entry received at a time is backdated (`ts` lags its receipt too far).
    backdated: Callable[[int, int], bool] | None = None
    # (route, query) -> whether that read is heavy: charged `[http] heavy_read_cost`. A view
    # may answer with an awaitable (computed elsewhere) rather than the data itself.
    is_heavy: Callable[[str, Mapping[str, str]], bool] | None = None
    # Fields added to GET /entries/{id} (who attested it, its standing: trustnet.desk); may
    # be awaitable (computed by the analysis' worker).
    entry: Callable[[str], Mapping[str, Any] | Awaitable[Mapping[str, Any]]] | None = None
    # Awaited before `summary` is read (by /metrics and /events): until the views have taken
    # in what the store holds, for a bounded time (trustnet.analysis.live).
    ready: Callable[[], Awaitable[None]] | None = None

"""Personalized EigenTrust: equal to networkx personalized PageRank, sybil-resistant."""

from __future__ import annotations

import json
from collections.abc import Mapping

import networkx as nx
import numpy as np
import pytest
from numpy.typing import NDArray

from trustnet.errors import TrustnetError
from trustnet.trust.eigentrust import TrustGraphError, eigentrust

Edges = list[tuple[int, int, float]]


def random_graph(seed: int, n: int, m: int) -> Edges:
    """Random trust edges with every awkward case: duplicates, self loops, s <= 0."""
    rng = np.random.default_rng(seed)
    # The last tenth of the nodes never appears in an edge: isolated (and dangling).
    active = max(2, n - n // 10)
    src = rng.integers(0, active, size=m)
    dst = rng.integers(0, active, size=m)
    # A fifth of the active nodes only receive trust: dangling.
    sinks = src < active // 5
    src[sinks] = rng.integers(active // 5, active, size=int(sinks.sum()))
    weight = rng.uniform(-0.5, 2.0, size=m)  # about a fifth are negative: dropped
    weight[rng.random(m) < 0.05] = 0.0
    edges = [(int(i), int(j), float(s)) for i, j, s in zip(src, dst, weight, strict=True)]
    edges += edges[: m // 10]  # duplicates: summed
    edges += [(int(i), int(i), 1.0) for i in rng.integers(active // 5, active, size=n // 10)]
    return edges


def networkx_reference(
    n: int,
    edges: Edges,
    a: float,
    personal: Mapping[int, float] | None,
) -> NDArray[np.float64]:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for i, j, s in edges:
        if s > 0:
            old = graph.get_edge_data(i, j, default={"weight": 0.0})["weight"]
            graph.add_edge(i, j, weight=old + s)
    pr = nx.pagerank(
        graph,
        alpha=1.0 - a,
        personalization=personal,
        dangling=personal,
        weight="weight",
        tol=1e-15,
        max_iter=10_000,
    )
    return np.array([pr[i] for i in range(n)])


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("a", [0.15, 0.5, 0.85])
@pytest.mark.parametrize("anchors", ["set", "weighted", "none"])
def test_equals_networkx_personalized_pagerank(seed: int, a: float, anchors: str) -> None:
    n = 60 + 40 * seed
    edges = random_graph(seed, n, 4 * n)
    pretrusted: list[int] | dict[int, float]
    personal: dict[int, float] | None
    if anchors == "set":
        pretrusted = [0, 3, 3, n - 1]  # listed twice counts once; n - 1 is isolated
        personal = {0: 1.0, 3: 1.0, n - 1: 1.0}
    elif anchors == "weighted":
        pretrusted = {0: 2.0, 5: 1.0, 7: 0.0}
        personal = {0: 2.0, 5: 1.0}
    else:
        pretrusted, personal = [], None  # uniform, for both
    t = eigentrust(n, edges, pretrusted, a)
    assert t.shape == (n,)
    assert t.sum() == pytest.approx(1.0, abs=1e-12)
    assert (t >= 0).all()
    assert np.max(np.abs(t - networkx_reference(n, edges, a, personal))) <= 1e-8


def test_array_and_list_inputs_agree() -> None:
    edges = random_graph(7, 100, 400)
    arr = np.array(edges, dtype=np.float64)
    t = eigentrust(100, edges, [1, 2])
    assert np.array_equal(t, eigentrust(100, arr, [1, 2]))
    assert np.array_equal(t, eigentrust(100, np.asfortranarray(arr), [1, 2]))
    assert np.array_equal(t, eigentrust(100, iter(edges), iter([2, 1])))


def test_small_graph_by_hand() -> None:
    # 0 -> 1 (weight 3), 0 -> 2 (weight 1), 1 -> 2; 2 is dangling; p = e0, a = 1/2.
    # t0 = 1/2 + 1/2 t2 (restart + dangling mass), t1 = 1/2 * 3/4 t0 = 3/8 t0,
    # t2 = 1/2 (1/4 t0 + t1) = 5/16 t0; the sum is 1, so t0 = 16/27.
    t = eigentrust(3, [(0, 1, 3.0), (0, 2, 1.0), (1, 2, 1.0)], [0], 0.5)
    expected = np.array([1.0, 3.0 / 8.0, 5.0 / 16.0]) * 16.0 / 27.0
    assert np.allclose(t, expected, atol=1e-12, rtol=0.0)
    assert t[0] == pytest.approx(16 / 27)


def test_no_edges_gives_the_pretrusted_distribution() -> None:
    assert np.allclose(eigentrust(4, [], {1: 3.0, 2: 1.0}), [0.0, 0.75, 0.25, 0.0])
    assert np.allclose(eigentrust(4, [(0, 1, -1.0), (2, 3, 0.0)], []), [0.25] * 4)


def test_a_one_is_pure_restart() -> None:
    assert np.allclose(eigentrust(3, [(0, 1, 1.0)], [0], a=1.0), [1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "n, edges, pretrusted, a",
    [
        (0, [], [], 0.5),
        (3, [(0, 3, 1.0)], [], 0.5),  # endpoint out of range
        (3, [(-1, 0, 1.0)], [], 0.5),
        (3, [(0.5, 1, 1.0)], [], 0.5),  # not an integer
        (3, [(0, 1, float("nan"))], [], 0.5),
        (3, [(0, 1, float("inf"))], [], 0.5),
        (3, [(0, 1)], [], 0.5),  # not a triple
        (3, [], [5], 0.5),
        (3, [], {0: -1.0}, 0.5),
        (3, [], {0: float("nan")}, 0.5),
        (3, [], [], 0.0),  # no restart: no contraction
        (3, [], [], 1.5),
    ],
)
def test_invalid_input_is_refused(
    n: int, edges: list[tuple[float, ...]], pretrusted: object, a: float
) -> None:
    with pytest.raises(TrustGraphError) as info:
        eigentrust(n, edges, pretrusted, a)  # type: ignore[arg-type]
    assert isinstance(info.value, TrustnetError)
    assert info.value.code == "bad_trust_graph"


def test_non_convergence_has_its_own_code() -> None:
    with pytest.raises(TrustGraphError) as info:
        # Node 20 has out-edges (nodes below 9 are sinks in random_graph(1, 50, ...)).
        eigentrust(50, random_graph(1, 50, 200), [20], 0.15, tol=1e-15, max_iter=3)
    assert info.value.code == "no_convergence"


# --- sybil resistance (DESIGN section 7: "Sybil rings gain no more trust by growing") ---


def honest_graph(seed: int, n: int) -> Edges:
    rng = np.random.default_rng(seed)
    return [
        (i, int(j), float(rng.uniform(0.5, 2.0)))
        for i in range(n)
        for j in rng.choice(n, size=5, replace=False)
        if int(j) != i
    ]


def with_sybil_ring(
    honest: Edges, n: int, attacker: int, k: int, *, vouch_back: bool
) -> tuple[int, Edges]:
    """k fresh identities n..n+k-1 vouching for each other around a ring, one attack edge."""
    ring = [n + i for i in range(k)]
    edges = list(honest)
    edges.append((attacker, ring[0], 1.0))  # the single attack edge
    for i in range(k):
        nxt = ring[(i + 1) % k]
        edges += [(ring[i], nxt, 1.0), (nxt, ring[i], 1.0)]
        if vouch_back:
            edges.append((ring[i], attacker, 1.0))
    return n + k, edges


@pytest.mark.parametrize("vouch_back", [False, True])
def test_sybil_ring_gains_nothing_by_growing(vouch_back: bool) -> None:
    n, attacker, a = 200, 150, 0.5
    honest = honest_graph(11, n)
    out_weight = sum(s for i, _, s in honest if i == attacker) + 1.0
    totals = {}
    for k in (10, 100, 1000):
        size, edges = with_sybil_ring(honest, n, attacker, k, vouch_back=vouch_back)
        t = eigentrust(size, edges, [0, 1, 2, 3, 4], a)
        sybil = float(t[n:].sum())
        totals[k] = sybil
        if not vouch_back:
            # Closed region, no edge back: it keeps exactly what crosses the
            # attack edge, (1 - a)/a times the attacker's share of its trust,
            # and the attacker's own trust does not depend on k.
            bound = (1 - a) / a * float(t[attacker]) / out_weight
            assert sybil <= bound + 1e-12
            assert sybil == pytest.approx(bound, rel=1e-9)
            assert sybil <= (1 - a) / a * float(t[attacker])
    assert totals[1000] <= totals[10] + 1e-9
    assert totals[100] <= totals[10] + 1e-9
    assert totals[10] > 0.0  # the attack edge does pass some trust


def test_sybils_gain_nothing_without_an_attack_edge() -> None:
    n = 100
    size, edges = with_sybil_ring(honest_graph(3, n), n, 0, 1000, vouch_back=True)
    edges = [e for e in edges if not (e[0] < n <= e[1])]  # cut the attack edge
    t = eigentrust(size, edges, [0, 1], 0.5)
    assert float(t[n:].sum()) == 0.0


# --- the benchmark module -----------------------------------------------------------


def test_benchmark_runs_small_and_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    from trustnet.bench.trust import main, run

    result = run(n=300, m=2000, seed=3, repeat=1)
    assert set(result) == {"n", "m", "eigentrust_s", "networkx_s", "speedup", "ratio",
                           "max_abs_diff"}
    assert result["ratio"] == result["speedup"]
    assert result["n"] == 300 and result["m"] == 2000
    assert result["max_abs_diff"] <= 1e-8
    assert main(["--n", "200", "--m", "1000", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["ratio"] > 0


@pytest.mark.parametrize(
    "edges", [[], [(0, 0, 1.0)], [(0, 0, -1.0)], np.zeros((0, 3)), np.array([[0.0, 0.0, 2.0]])]
)
@pytest.mark.parametrize("pretrusted", [[], [0], {0: 3.0}])
def test_single_party_holds_all_trust(edges: Edges, pretrusted: list[int] | dict[int, float]) -> None:
    t = eigentrust(1, edges, pretrusted)
    assert t.shape == (1,) and t.dtype == np.float64
    assert t.tolist() == [1.0]


def test_single_party_input_is_still_checked() -> None:
    with pytest.raises(TrustGraphError):
        eigentrust(1, [(0, 1, 1.0)], [0])
    with pytest.raises(TrustGraphError):
        eigentrust(1, [], [1])

"""The import graph of trustnet/ has no cycles (issue 13 item 4): every path goes one way.

Read from the source (AST), not from sys.modules: imports inside functions count as
much as those at the top, and so do imports under `if TYPE_CHECKING:`. Those never run,
but a module that names another's types depends on it as much as one that calls it: a
cycle there is a layer mixed up all the same. A module that must name what it is handed
from above declares what it reads as a Protocol (e.g. `config.ownlog.Heads`,
`trust.beliefs.records.LazyEvidence`) instead of importing it.
Importing `a.b.c` also runs `a/__init__.py` and `a/b/__init__.py`: those edges count,
except to packages that hold the importer itself (already being imported when it runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "trustnet"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name `module` imports (the candidates: `from a import b` gives a and a.b)."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the trustnet modules importing it runs."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in mods.items():
        own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        deps: set[str] = set()
        for name in _imported(ast.parse(path.read_text(encoding="utf-8")), module,
                              path.name == "__init__.py"):
            if name in mods:
                target = name
            elif name.rpartition(".")[0] in mods:
                target = name.rpartition(".")[0]  # `from pkg.mod import function`
            else:
                continue  # not trustnet's
            parts = target.split(".")
            deps.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[module] = {d for d in deps if d in mods and d != module and d not in own_packages}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_cycle_in(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One cycle through a component, as the path a reader follows: a -> b -> ... -> a."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        nxt = min(w for w in graph[path[-1]] if w in component)
        if nxt in seen:
            return [*path[path.index(nxt):], nxt]
        path.append(nxt)
        seen.add(nxt)


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert "trustnet.log.entry" in graph["trustnet.store.sqlite"]
    assert "trustnet.statements" in graph["trustnet.store.sqlite"]  # via trustnet.statements.entries
    assert "trustnet.config.nodedir" in graph["trustnet.cli.node"]
    # An import inside a function counts, and so does one under TYPE_CHECKING.
    assert "trustnet.log.bundle" in graph["trustnet.node.daemon"]  # inside `_own_log`
    assert "trustnet.trust.beliefs.tracktypes" in graph["trustnet.trust.beliefs.base"]


def test_cycles_are_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_trustnet_has_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in trustnet/: " + "; ".join(" -> ".join(c) for c in found)


def test_no_test_module_imports_another() -> None:
    """Tests share a harness (tests/harness/, conftest.py), not each other (issue 13 item 7)."""
    tests = ROOT.parent / "tests"
    found = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names
                      if n.startswith(("tests.test_", "test_"))]
    assert found == []

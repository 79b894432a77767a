"""The shape of the code: no import cycle between packages, the kernel imports no feature,
and every feature is declared in crm/features.py (nothing wires itself at import time).

The import graph is read from the source (ast), counting imports inside functions too: a lazy
import hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CRM = Path(__file__).resolve().parents[2] / "crm"
# Shared plumbing every layer may use; everything else directly under crm/ is a feature.
INFRASTRUCTURE = {"kernel", "models", "extensions", "errors", "security", "htmx", "config"}


def _units() -> set[str]:
    return {p.stem if p.suffix == ".py" else p.name for p in CRM.iterdir()} - {"__init__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CRM.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    here = _module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                keep = len(here.split(".")) - node.level + (path.name == "__init__.py")
                base = here.split(".")[:keep]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    """unit → units it imports, where a unit is a package or module directly under crm/."""
    units = _units()
    graph: dict[str, set[str]] = {u: set() for u in units}
    for path in CRM.rglob("*.py"):
        parts = _module_name(path).split(".")
        if len(parts) < 2:
            continue  # crm/__init__.py: the app factory composes everything
        for name in _imported(path):
            target = name.split(".")
            if target[0] == "crm" and len(target) > 1 and target[1] in units - {parts[1]}:
                graph[parts[1]].add(target[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_packages():
    assert cycles(package_graph()) == []


def test_the_kernel_imports_no_feature():
    graph = package_graph()
    features = _units() - INFRASTRUCTURE
    assert graph["kernel"] & features == set()
    for unit in INFRASTRUCTURE - {"kernel"}:
        assert graph.get(unit, set()) & features == set(), unit


@pytest.mark.parametrize("path", sorted(CRM.glob("*/__init__.py")), ids=lambda p: p.parent.name)
def test_no_package_wires_itself_into_another_at_import_time(path):
    """A package's __init__ may define its blueprints and import its own routes, nothing else."""
    package = path.parent.name
    for name in _imported(path):
        parts = name.split(".")
        if parts[0] == "crm" and len(parts) > 1:
            assert parts[1] in (package, *INFRASTRUCTURE), f"{package} imports {name}"


def test_every_feature_is_declared_once_and_installed(app):
    from crm.features import FEATURES
    from crm.kernel import features

    assert features.declared(app) == FEATURES
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    registered = set(app.blueprints.values())
    for feature in FEATURES:
        assert set(feature.blueprints) <= registered, feature.name
    assert registered == {bp for f in FEATURES for bp in f.blueprints}


def test_every_job_the_code_enqueues_is_declared_and_exists(app):
    import importlib

    from crm.kernel import features

    declared = set(features.jobs(app))
    used = set()
    for path in CRM.rglob("*.py"):
        used.update(re.findall(r"[\"'](jobs\.[a-z_]+\.[a-z_]+)[\"']", path.read_text()))
    assert used <= declared
    for name in declared:
        module, _, func = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_search_sources_are_declared_by_the_features_that_own_them(app):
    from crm.kernel import features
    from crm.search import indexing

    sources = features.search_sources(app)
    assert sorted(sources) == sorted(indexing.BUILDERS)
    assert len(sources) == len(set(sources))

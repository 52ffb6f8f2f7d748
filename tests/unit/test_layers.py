"""The packages import only downwards: index <- rag <- evals <- ui, and no module cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["index", "rag", "evals", "ui"]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module this file imports (at the top or inside functions), resolved to ours."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in LAYERS}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            # "from rag.retrieval import hybrid" names a module; "from rag.types import Hit" does not
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def test_no_package_imports_one_above_it() -> None:
    upward = []
    for module, targets in graph().items():
        level = LAYERS.index(module.split(".")[0])
        for t in targets:
            if LAYERS.index(t.split(".")[0]) > level:
                upward.append(f"{module} -> {t}")
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_walker_sees_imports() -> None:
    edges = graph()
    assert "index.search" in edges["rag.retrieval.hybrid"]
    assert "ui.flags" in edges["ui.commands"] and "ui.flags" in edges["ui.cli"]
    assert len(edges) > 30


def test_no_code_names_the_seed_articles_content() -> None:
    import re

    words = re.compile(r"korea|pyongyang|pence|olympic|hwasong|lankov|fitzpatrick|farkas", re.I)
    hits = [f"{p.relative_to(ROOT)}:{n}" for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if words.search(line)]
    assert hits == []

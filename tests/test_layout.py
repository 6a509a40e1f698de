"""The package's layout rules (docs/layout.md), checked on the source: every import counts, lazy ones included."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import fakelens

PACKAGE = Path(fakelens.__file__).resolve().parent
ROOT = "fakelens"
#: Runtime rooms: what `pip install .` scores, explains, serves and adapts with (stats: fitting and metrics, NumPy/SciPy/
#: scikit-learn only, used by adapt and by the training rooms). They never import a training room.
RUNTIME = {"inference", "faces", "explain", "service", "provenance", "adapt", "stats"}
#: Training rooms: training data pipelines, training, evaluation, export, quantisation, scale-out.
TRAINING = {"data", "training", "evaluation", "export", "scaleout"}
#: Shared foundations any room may use (none of them imports a room).
FOUNDATIONS = {"errors", "labels", "_version", "utils", "imaging", "models", "sources"}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the fakelens modules it imports anywhere in its body (functions and TYPE_CHECKING blocks too)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
            else:
                continue
            for target in targets:
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target.startswith(ROOT) and target in mods and target != mod:
                    edges[mod].add(target)
    return edges


def _room(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


EDGES = _imports(_modules())


def test_no_import_cycle_between_files():
    assert _cycles(EDGES) == []


def test_no_import_cycle_between_rooms():
    rooms: dict[str, set[str]] = defaultdict(set)
    for a, targets in EDGES.items():
        rooms[_room(a)].update(_room(b) for b in targets if _room(b) != _room(a))
    assert _cycles(rooms) == []


def test_runtime_rooms_never_reach_into_training_rooms():
    reach = sorted(f"{a} -> {b}" for a, bs in EDGES.items() for b in bs if _room(a) in RUNTIME and _room(b) in TRAINING)
    assert reach == []


def test_foundations_import_no_room():
    reach = sorted(f"{a} -> {b}" for a, bs in EDGES.items() for b in bs if _room(a) in FOUNDATIONS and _room(b) in RUNTIME | TRAINING)
    assert reach == []


def test_every_room_is_placed():
    rooms = {_room(m) for m in _modules()} - {ROOT, "cli", "__main__"}
    assert rooms <= RUNTIME | TRAINING | FOUNDATIONS, rooms - (RUNTIME | TRAINING | FOUNDATIONS)


def test_the_checker_sees_a_lazy_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]

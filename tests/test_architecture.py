"""The package's floor plan, checked over its imports (read with ``ast``, nothing is imported).

Layers, lowest first; a module imports only from its own package or a lower layer, and packages
sharing a layer do not import each other. Faces (the reference package's module paths and the
top-level ``__init__``) re-export and may import anything, but nothing inside the package imports a
face. Imports inside functions are kept for optional heavy dependencies only, each with a comment
on the line before saying so; an import of the package itself inside a function is never needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = "distributed_resource_optimization"
SRC = Path(__file__).resolve().parents[1] / "src" / PKG

#: Lowest first; the packages of one layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("checks", "figures"),
    ("admm", "interior_point"),
    ("algorithm",),
    ("local",),
    ("runtime", "energy"),
    ("market", "flex_sharing"),
    ("io",),
    ("cli",),
    ("__main__",),
]
#: Re-exports of the reference package's module paths (and the package's own ``__init__``).
FACES = ("carrier", "algorithm.admm", "")

#: What is still to move (issue 23); this list only shrinks and ends empty.
PENDING: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_face(module: str) -> bool:
    return any(module == f or (f and module.startswith(f + ".")) for f in FACES)


def _top(module: str) -> str:
    return module.split(".")[0]


def _layer(module: str) -> int:
    top = _top(module)
    for i, packages in enumerate(LAYERS):
        if top in packages:
            return i
    raise AssertionError(f"{module!r} belongs to no layer: add its package to LAYERS or FACES")


def _imports() -> list[tuple[str, str, int, bool]]:
    """(importing module, imported module, line, inside a function) for every package import."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                    targets = [target]
                else:
                    targets = [node.module or ""]
                if targets[0] in (PKG, "") or targets[0].startswith(PKG + "."):
                    # `from pkg.sub import module` imports pkg.sub.module
                    stem = targets[0]
                    for alias in node.names:
                        sub = (stem + "." + alias.name)
                        rel = sub.removeprefix(PKG).lstrip(".").replace(".", "/")
                        if (SRC / f"{rel}.py").exists() or (SRC / rel / "__init__.py").exists():
                            targets.append(sub)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                if t == PKG or t.startswith(PKG + "."):
                    found.append((module, t.removeprefix(PKG).lstrip("."), node.lineno, id(node) in nested))
    return found


IMPORTS = _imports()


def test_no_import_runs_up_a_layer_or_into_a_face() -> None:
    wrong = []
    for module, target, line, _ in IMPORTS:
        if _is_face(module):
            continue
        if _is_face(target):
            wrong.append(f"{module}:{line} imports the face {target or PKG}")
        elif _top(module) != _top(target) and _layer(target) >= _layer(module) \
                and (module, target) not in PENDING:
            wrong.append(f"{module}:{line} imports {target} (layer {_layer(target)} >= {_layer(module)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module, target, _, inside in IMPORTS:
        if not inside and target != module:
            graph.setdefault(module, set()).add(target)
    # Tarjan's strongly connected components over module-level imports.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _nested_imports() -> list[tuple[str, int, str, bool]]:
    """(module, line, imported name, has a comment saying why) for every import inside a function."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text, str(path))
        seen: set[int] = set()
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in seen:
                    continue
                seen.add(id(node))
                name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                # the comment is on the import's line or above the run of imports it belongs to
                i = node.lineno - 1
                commented = "#" in lines[i]
                while not commented and i > 0:
                    i -= 1
                    stripped = lines[i].strip()
                    if stripped.startswith("#"):
                        commented = True
                    elif not (stripped.startswith(("import ", "from ", ")")) or stripped.endswith(",")):
                        break
                found.append((_module_name(path), node.lineno, name or "", commented))
    return found


def test_imports_inside_functions_are_only_for_optional_heavy_dependencies() -> None:
    """The package's own modules are imported at the top, except by the command line, which loads
    a command's dependencies (pandas, matplotlib, mango-agents) only when that command runs; every
    import inside a function says why in a comment."""
    wrong = []
    for module, line, name, commented in _nested_imports():
        own = name == PKG or name.startswith(PKG + ".") or name.startswith(".")
        if own and _top(module) not in ("cli",):
            wrong.append(f"{module}:{line} imports {name} inside a function")
        elif not commented:
            wrong.append(f"{module}:{line} imports {name} inside a function without a comment why")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", sorted({m for m, *_ in IMPORTS if not _is_face(m)}))
def test_every_module_has_a_layer(module: str) -> None:
    _layer(module)

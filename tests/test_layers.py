"""The package's layers (docs/architecture.md): no module imports a module of a higher layer, at
module level or inside a function, and no imports form a cycle.

Imports under `if TYPE_CHECKING:` only name types for annotations and never run, so they may
point anywhere (the handle names the `Stack` that holds it this way).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import flow_artifacts

PACKAGE = Path(flow_artifacts.__file__).parent

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "errors", "naming", "moments", "limits", "redact", "refs", "template", "progress",
            "hashing", "recording_fs", "manifest", "version", "aspects", "local_file", "provenance",
            "failures",
        ),
    ),
    (
        "extension contracts",
        (
            "hookspecs", "stores.backend", "stores.builtin_backends", "materializers",
            "manifest_checks", "plugins",
        ),
    ),
    ("store", ("stores", "journal", "artifact", "pickle_policy")),
    ("catalog", ("catalog",)),
    ("stack", ("stack",)),
    (
        "operations",
        ("api", "compare", "manage", "rebuild", "maintenance", "steps", "openlineage", "testing"),
    ),
    ("public names", ("",)),
    ("demo", ("demo",)),
    ("web page", ("ui",)),
    ("command line", ("cli", "__main__")),
]  # fmt: skip
"""Bottom first. A module belongs to the layer of its longest matching prefix ("" is the package
itself, `flow_artifacts/__init__.py`)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".") or prefix == ""
            if matches and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer; add it to LAYERS and the docs"
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def imports_of(module: str) -> set[str]:
    """The package's modules that `module` imports when it runs."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skipped = _type_checking_nodes(tree)
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "":
        here = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module + ".").startswith("flow_artifacts."):
                target = node.module.removeprefix("flow_artifacts").lstrip(".")
            else:
                continue
            for alias in node.names:
                child = f"{target}.{alias.name}" if target else alias.name
                found.add(child if child in MODULES else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.name + ".").startswith("flow_artifacts."):
                    found.add(alias.name.removeprefix("flow_artifacts").lstrip("."))
    # a submodule's own packages are imported before it; the package root is not exempt: a
    # name taken from `flow_artifacts` itself depends on everything it exports
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, len(module.split(".")))}
    return {m for m in found if m in MODULES and m != module and m not in ancestors}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{m or 'flow_artifacts'} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, targets in GRAPH.items()
        for t in targets
        if layer_of(t) > layer_of(m)
    ]
    assert upward == [], "\n".join(upward)


def test_imports_form_no_cycle():
    cycles = []
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    for start in sorted(GRAPH):
        if state[start]:
            continue
        stack = [(start, iter(sorted(GRAPH[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state[child] == 1:
                cycles.append(" -> ".join(path[path.index(child) :] + [child]))
            elif state[child] == 0:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(GRAPH[child]))))
    assert cycles == [], "\n".join(cycles)


def test_the_web_page_reads_the_catalog_through_its_facade_only():
    """The page's queries live in catalog/: it imports `flow_artifacts.catalog` (Catalog and the
    records it returns), never the catalog's modules, SQLAlchemy or the command line."""
    for module, targets in GRAPH.items():
        if module.split(".")[0] == "ui":
            inside = {t for t in targets if t.startswith("catalog.") or t.startswith("cli")}
            assert inside == set(), module
            assert "sqlalchemy" not in MODULES[module].read_text(), module


def test_the_checker_sees_function_level_imports():
    """A guard on the guard: an import inside a function is an edge like any other."""
    assert "pickle_policy" in GRAPH["artifact"]  # imported inside Artifact.load
    assert "stack.file" in GRAPH["stack.stack"]  # imported inside Stack.from_yaml

"""Import rules of the architecture: dataframes and formulaic only at the edge, and the numeric
core importing only packages to its left (terms -> families -> linalg -> models -> optim ->
inference)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "interlace_jax"
CORE = ["terms", "families", "linalg", "models", "optim", "inference"]
EDGE_ONLY = {"narwhals": {"data"}, "formulaic": {"formula"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(PACKAGE.parent).parent.parts[: len(
                    path.relative_to(PACKAGE.parent).parent.parts) - node.level + 1]
                names.add(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                names.add(node.module)
    return names


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_import_rules(path):
    parts = path.relative_to(PACKAGE).parts
    folder = parts[0] if len(parts) > 1 else None
    for name in _imports(path):
        top = name.split(".")[0]
        if top in EDGE_ONLY:
            assert folder in EDGE_ONLY[top], f"{path.name} imports {top}"
        if folder in CORE and name.startswith("interlace_jax."):
            target = name.split(".")[1]
            allowed = CORE[: CORE.index(folder) + 1] + ["_errors", "_x64"]
            assert target in allowed, f"{folder}/{path.name} imports {name}"

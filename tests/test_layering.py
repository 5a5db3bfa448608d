"""The layout keeps its layers: the platform (``core``) imports no feature app, and no two packages
import each other both ways. Read from the source (an AST walk of every import), so an import added
anywhere, even inside a function, is seen."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: each may import only those before it (and third-party code).
LAYERS = ["core", "accounts", "apps_registry", "events", "dashboard", "attribution"]
OUTSIDE = {"benchmarks", "tests"}  # they may import anything; nothing of the product imports them


def imports_by_package() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the files that import it."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for package in [*LAYERS, *OUTSIDE]:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top != package and top in {*LAYERS, *OUTSIDE}:
                        found[package][top].add(str(path.relative_to(ROOT)))
    return found


def test_the_platform_imports_no_feature_app():
    assert dict(imports_by_package()["core"]) == {}


def test_each_package_imports_only_the_layers_below_it():
    found = imports_by_package()
    upward = {
        f"{package} -> {imported}": sorted(files)
        for package in LAYERS
        for imported, files in found[package].items()
        if imported in OUTSIDE or LAYERS.index(imported) > LAYERS.index(package)
    }
    assert upward == {}


def test_no_two_packages_import_each_other():
    found = imports_by_package()
    both_ways = {tuple(sorted((a, b))) for a in found for b in found[a] if a in found.get(b, {}) and a not in OUTSIDE}
    assert both_ways == set()

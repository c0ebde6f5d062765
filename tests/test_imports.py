"""The product code's import graph: no circle, and checking params loads no model library.

The rule: over every module of the packages ``pipeline`` (with ``pipeline.lib`` and
``pipeline.commands``), ``analysis`` and ``dashboard`` (with its pages), draw an edge A -> B for
every import of B in A, at module level, inside functions and under ``TYPE_CHECKING`` alike
(a deferred import is still a dependency); the graph has no cycle. No module is exempt.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO, stage_env

PACKAGES = ("pipeline", "analysis", "dashboard")


def product_modules() -> dict[str, str]:
    """Every product module by dotted name -> its path relative to the repo."""
    found = {}
    for package in PACKAGES:
        for file in sorted((REPO / package).rglob("*.py")):
            parts = file.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = str(file.relative_to(REPO))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the product modules it imports (``from a import b``: ``a.b`` if a module)."""
    modules = product_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse((REPO / path).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in targets]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_covers_every_package_and_sees_deferred_imports():
    graph = import_graph()
    for package in ("pipeline", "pipeline.lib", "pipeline.commands", "analysis", "dashboard"):
        assert any(name.startswith(f"{package}.") for name in graph), package
    assert "dashboard.pages.overview" in graph
    # the checker itself: a circle through a function-level import is found
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_anywhere_in_the_product_code():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_checking_params_loads_no_model_library(tmp_path):
    # The check_params stage and every params reader validate the whole schema, every
    # predictor's own settings included, without torch, transformers or scikit-learn.
    code = (
        "import sys, runpy\n"
        "sys.argv = ['check_params']\n"
        "runpy.run_module('pipeline.check_params', run_name='__main__')\n"
        "from pipeline.lib.params import parse_study, read_params\n"
        "parse_study(read_params('params.yaml'))\n"
        "heavy = ('torch', 'transformers', 'sklearn', 'peft', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    (tmp_path / "params.yaml").write_bytes((REPO / "demo/params.yaml").read_bytes())
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=stage_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "results/params_check.json").is_file()  # the stage ran and checked

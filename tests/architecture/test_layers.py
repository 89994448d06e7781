"""The layering holds: packages import each other without a cycle, commands load only what they
run, and functions stay short enough to read at a glance."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "wsllm"
MAX_FUNCTION_LINES = 50


def package_of(module: str) -> str:
    """`wsllm.evals.grading.text` -> `wsllm.evals.grading`; top-level modules stand alone."""
    path = SRC.parent / Path(*module.split("."))
    if path.is_dir() or path.parent == SRC:
        return module
    return module.rsplit(".", 1)[0]


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def _runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`, which are never imported at run time."""
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wsllm"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("wsllm"))
    return names


def package_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in known.items():
        source = package_of(name)
        for target in imports(tree):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            destination = package_of(target)
            if destination != source and not source.startswith(destination + "."):
                graph[source].add(destination)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def module_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in known.items():
        for target in imports(tree):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != name and target in known:
                graph[name].add(target)
    return graph


def test_packages_import_each_other_without_a_cycle() -> None:
    """Packages form a DAG; a subpackage may use its parent's own modules (evals/grading reads
    evals/schema.py), which the module check below keeps honest."""
    graph = package_graph()
    assert graph["wsllm.server"], "the graph is read (the server imports something)"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_modules_import_each_other_without_a_cycle() -> None:
    graph = module_graph()
    assert "wsllm.errors" in graph["wsllm.server.seed"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_lower_layers_do_not_reach_up() -> None:
    graph = package_graph()
    above = {
        "wsllm.store": {"wsllm.evals", "wsllm.report", "wsllm.commands", "wsllm.viewer"},
        "wsllm.client": {"wsllm.evals", "wsllm.bench", "wsllm.commands", "wsllm.server"},
        "wsllm.openai": {"wsllm.backends", "wsllm.graders", "wsllm.evals", "wsllm.server"},
        "wsllm.backends": {"wsllm.server", "wsllm.evals", "wsllm.commands"},
        "wsllm.graders": {"wsllm.evals", "wsllm.commands"},
        "wsllm.evals": {"wsllm.report", "wsllm.store", "wsllm.commands", "wsllm.bench"},
    }
    for low, high in above.items():
        reached = {
            p
            for p in graph
            for h in high
            if p.startswith(low) and any(d == h or d.startswith(h + ".") for d in graph[p])
        }
        assert not reached, f"{low} imports a layer above it: {sorted(reached)}"


def loaded_by(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return set(out.split())


HEAVY = ("quickjs", "jinja2", "rich", "yaml", "wsllm.evals", "wsllm.graders")


@pytest.mark.parametrize(
    "code",
    [
        "import wsllm.cli; wsllm.cli.build_parser()",
        "import sys, wsllm.cli\nsys.argv = ['wsllm', 'serve', '--help']\n"
        "try:\n    wsllm.cli.main()\nexcept SystemExit:\n    pass",
        "import wsllm.viewer.app",
        "import wsllm.server.app",
    ],
)
def test_commands_and_the_viewer_load_no_eval_engine(code: str) -> None:
    heavy = {m for m in loaded_by(code) if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}
    assert heavy == set()


def test_no_function_is_longer_than_fifty_lines() -> None:
    long = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({size})")
    assert long == []

"""The package's shape: imports flow one way through the stages, no cycles, small modules,
registries complete whatever is imported first, and a cheap config import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reportgen"
MAX_LINES = 420  # "a module fits on a few screens"

# Layers in flow order: a module may import its own layer and the ones before it (module-level
# imports; an import inside a function is a deliberate lazy one and is not counted).
LAYERS = [
    ("base", ["__init__", "vocab", "errors", "io", "resources", "exclusions", "config",
              "config_yaml", "run_record", "run_dir"]),
    ("data", ["data"]),
    ("models", ["models"]),
    ("metrics", ["metrics"]),
    ("heatmaps", ["heatmaps"]),
    ("scoring", ["scoring"]),
    ("analysis", ["analysis", "conditions"]),
    ("narrative", ["narrative"]),
    ("report", ["report"]),
    ("flow", ["stages", "pipeline", "api", "demo", "cli", "__main__", "sample_data"]),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for i, (_, names) in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """reportgen modules imported at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # if TYPE_CHECKING: ...
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known and n != module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(p, m, known) for m, p in modules.items()}


def test_no_module_imports_a_later_stage(graph):
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if _layer(d) > _layer(m))
    assert upward == []


def test_there_is_no_import_cycle(graph):
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_modules_fit_on_a_few_screens():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_near_twin_module_names():
    stems = {p.relative_to(PACKAGE).with_suffix("").as_posix() for p in PACKAGE.rglob("*.py")}
    twins = sorted(s for s in stems if s + "s" in stems)
    assert twins == []


def test_fact_ids_are_split_only_in_the_facts_module():
    splitters = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if 'split("|")' in p.read_text(encoding="utf-8")]
    assert splitters in ([], ["analysis/facts.py"])


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent).stdout


def test_importing_the_config_imports_no_torch():
    assert _run("import sys, reportgen.config; print('torch' in sys.modules)").strip() == "False"


@pytest.mark.slow
def test_every_module_alone_sees_the_full_metric_and_scorer_registries():
    """Each module is imported with every reportgen module purged first (fresh as far as
    reportgen goes; torch stays loaded, which only saves time)."""
    code = f"""
import importlib, sys
def purge():
    for name in [n for n in sys.modules if n == 'reportgen' or n.startswith('reportgen.')]:
        del sys.modules[name]
import reportgen.pipeline, reportgen.cli, reportgen.api
from reportgen.metrics.registry import METRICS
from reportgen.metrics.scorers import SCORERS
full = (sorted(METRICS), sorted(SCORERS))
bad = []
for name in {sorted(m for m in _modules() if not m.endswith('__main__'))!r}:
    purge()
    importlib.import_module(name)
    from reportgen.metrics.registry import METRICS
    from reportgen.metrics.scorers import SCORERS
    if (sorted(METRICS), sorted(SCORERS)) != full:
        bad.append(name)
print(len(full[0]), bad)
"""
    count, bad = _run(code).strip().split(" ", 1)
    assert int(count) >= 20 and bad == "[]"

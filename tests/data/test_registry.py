"""The format registry: each format registers itself; one list, no import cycle in data/."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import reportgen.data
from reportgen.data import dataset_formats, format_options, load_dataset, registry
from reportgen.data.base import TaskDataset
from reportgen.data.registry import register_format
from reportgen.errors import DatasetError

DATA = Path(reportgen.data.__file__).parent


def test_the_built_in_formats_are_registered_in_detection_order():
    assert dataset_formats() == ("folder", "partimagenet", "pascal_part", "mat_labelmap")


def test_the_registry_is_full_whichever_data_module_is_imported_first():
    code = ("import reportgen.data.spec as s, reportgen.data.registry as r; "
            "print(','.join(r.dataset_formats()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "folder,partimagenet,pascal_part,mat_labelmap"


def test_a_format_registered_by_decorator_is_loaded_and_validated(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "_FORMATS", dict(registry._FORMATS))

    @dataclass(frozen=True)
    class ToyOptions:
        size: int = 1

    @register_format("toy", options=ToyOptions)
    class ToyDataset(TaskDataset):
        def __init__(self, root, limit=None, options=None, policy=None):
            self.root, self.limit, self.options, self.policy = root, limit, options, policy

    assert ToyDataset.format == "toy" and "toy" in dataset_formats()
    assert format_options("toy") == ["size"]
    dataset = load_dataset({"format": "toy", "root": tmp_path, "size": 3,
                            "max_image_pixels": 10})
    assert dataset.options == ToyOptions(3) and dataset.policy.max_image_pixels == 10
    with pytest.raises(DatasetError, match="option 'size'"):
        load_dataset({"format": "toy", "root": tmp_path, "size": "big"})
    with pytest.raises(ValueError, match="registered twice"):
        register_format("toy", options=ToyOptions)(type("Other", (), {}))


def test_an_unknown_format_lists_the_registered_ones(tmp_path):
    with pytest.raises(DatasetError, match="choose from folder, partimagenet, pascal_part, "
                                           "mat_labelmap"):
        load_dataset({"format": "voc", "root": tmp_path})


def _imports(path: Path) -> set[str]:
    """The reportgen.data modules a module imports (anywhere in it, lazily too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("reportgen.data.")
                  and (DATA / f"{n.split('.')[2]}.py").is_file() and n.count(".") == 2}
    return found


def test_no_module_in_data_imports_one_that_imports_it_back():
    """The package __init__ aggregates the modules; among the modules the imports form a
    graph without cycles (the old folder <-> spec shim is gone)."""
    graph = {f"reportgen.data.{p.stem}": _imports(p) for p in DATA.glob("*.py")
             if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError(f"import cycle: {' -> '.join((*path, module))}")
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert "reportgen.data.spec" not in graph["reportgen.data.folder"]

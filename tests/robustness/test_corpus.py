"""The bad-input corpus at the command line: every case must end in a clear one-line error
(exit 2, no traceback) or in an exclusion of the bad sample while the rest are scored.

The test prints the table of cases and outcomes and the share that ended well (must be 100 %).
Files are generated at test time (the huge image too: nothing large is committed).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from reportgen.cli import app
from reportgen.sample_data.build import write_folder_dataset

pytestmark = pytest.mark.slow


def _manifest(root: Path) -> dict:
    return json.loads((root / "dataset.json").read_text())


def _save_manifest(root: Path, data: dict) -> None:
    (root / "dataset.json").write_text(json.dumps(data))


def truncated_image(root: Path) -> str:
    path = root / "images" / "s_0001.png"
    path.write_bytes(path.read_bytes()[:60])
    return "s_0001"


def zero_byte_image(root: Path) -> str:
    (root / "images" / "s_0001.png").write_bytes(b"")
    return "s_0001"


def huge_image(root: Path) -> str:
    # 14000 x 14000 JPEG of one grey (about 3 MB on disk, 196 megapixels when decoded).
    Image.new("L", (14000, 14000), 128).save(root / "images" / "big.jpg", quality=50)
    data = _manifest(root)
    data["samples"].append({**data["samples"][0], "id": "big", "image": "images/big.jpg"})
    _save_manifest(root, data)
    return "big"


def label_out_of_range(root: Path) -> str:
    labels = np.asarray(Image.open(root / "labels" / "s_0001.png")).copy()
    labels[0, 0] = 77
    Image.fromarray(labels).save(root / "labels" / "s_0001.png")
    return "s_0001"


def path_outside_root(root: Path) -> str:
    outside = root.parent / "outside.png"
    shutil.copy(root / "images" / "s_0001.png", outside)
    data = _manifest(root)
    data["samples"][1]["image"] = "../outside.png"
    _save_manifest(root, data)
    return "s_0001"


def absolute_path(root: Path) -> str:
    data = _manifest(root)
    data["samples"][1]["image"] = "/etc/passwd"
    _save_manifest(root, data)
    return "s_0001"


EXCLUDED: dict[str, Callable[[Path], str]] = {
    "truncated image": truncated_image, "zero-byte image": zero_byte_image,
    "14000 x 14000 JPEG": huge_image, "label value out of range": label_out_of_range,
    "manifest path ../ outside the root": path_outside_root,
    "absolute manifest path": absolute_path,
}


def _one_line_error(result) -> bool:
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    return (result.exit_code == 2 and "Traceback" not in result.output
            and ((len(lines) == 1 and lines[0].startswith("error:"))
                 or any("Invalid value" in ln for ln in lines)))


@pytest.fixture()
def project(tmp_path, world_samples) -> Path:
    write_folder_dataset(world_samples[:4], tmp_path / "world", "s")
    (tmp_path / "partnet.json").write_text(json.dumps({
        "name": "random-partnet", "arch": "partnet", "num_classes": 4,
        "preprocessing": {"size": 96, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}))
    (tmp_path / "run.yaml").write_text(
        "dataset:\n  root: world\nmodels:\n  - spec: partnet.json\nmethods: [gradcam]\n"
        "device: cpu\nbatch_size: 4\nworkers: 0\nfaithfulness: {enabled: false}\n"
        "report: {gallery: false}\n")
    return tmp_path


def _error_cases(project: Path) -> dict[str, list[str]]:
    bad_id = project / "bad_id"
    shutil.copytree(project / "world", bad_id)
    data = _manifest(bad_id)
    data["samples"][0]["id"] = [1]
    _save_manifest(bad_id, data)
    (project / "typo.yaml").write_text((project / "run.yaml").read_text() + "bach_size: 3\n")
    (project / "missing.yaml").write_text(
        (project / "run.yaml").read_text().replace("root: world", "root: nowhere"))
    (project / "afile").write_text("x")
    return {
        "typo'd config key": ["run", str(project / "typo.yaml"), "--out", str(project / "o1"),
                              "-q"],
        "missing dataset root": ["run", str(project / "missing.yaml"), "--out",
                                 str(project / "o2"), "-q"],
        "--out is a file": ["run", str(project / "run.yaml"), "--out", str(project / "afile"),
                            "-q"],
        "--limit 0": ["run", str(project / "run.yaml"), "--limit", "0"],
        "inspect --limit -2": ["inspect", str(project / "world"), "--limit", "-2"],
        "manifest id [1]": ["inspect", str(bad_id), "--strict"],
        "render of a folder that is no run": ["render", str(project / "world")],
    }


def test_every_bad_input_ends_in_a_one_line_error_or_an_exclusion(project, capsys):
    outcomes: list[tuple[str, str, bool]] = []
    runner = CliRunner()
    for name, make in EXCLUDED.items():
        case = project / name.replace(" ", "_").replace("/", "_")
        shutil.copytree(project / "world", case / "world")
        shutil.copy(project / "partnet.json", case)
        shutil.copy(project / "run.yaml", case)
        bad = make(case / "world")
        result = runner.invoke(app, ["run", str(case / "run.yaml"), "--out", str(case / "out"),
                                     "-q"])
        ok = result.exit_code == 0 and "Traceback" not in result.output
        if ok:
            excl = pd.read_csv(case / "out" / "exclusions.csv", dtype=str).fillna("")
            reasons = excl[excl.image_id == bad].reason.tolist()
            scored = pd.read_parquet(case / "out" / "scores.parquet").image_id.unique()
            ok = len(reasons) >= 1 and all("\n" not in r for r in reasons) and len(scored) >= 3
        outcomes.append((name, "exclusion" if ok else f"FAILED ({result.exit_code})", ok))
    for name, args in _error_cases(project).items():
        result = runner.invoke(app, args)
        if name == "manifest id [1]":  # inspect --strict: a problem listed, exit 1, no crash
            ok = result.exit_code in (1, 2) and "Traceback" not in result.output \
                and "[1]" in result.output
        else:
            ok = _one_line_error(result)
        outcomes.append((name, "one-line error" if ok else
                         f"FAILED ({result.exit_code}): {result.output[-200:]}", ok))
    share = sum(ok for *_, ok in outcomes) / len(outcomes)
    with capsys.disabled():
        print("\nbad-input corpus:")
        for name, outcome, _ in outcomes:
            print(f"  {name:40s} {outcome}")
        print(f"  clear error or exclusion: {share:.0%} of {len(outcomes)}")
    assert share == 1.0, [o for o in outcomes if not o[2]]

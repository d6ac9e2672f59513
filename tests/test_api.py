import json

import pandas as pd
import pytest

import reportgen


def _model_spec(tmp_path):
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps({"name": "random-partnet", "arch": "partnet", "num_classes": 4,
                                "preprocessing": {"size": 96, "mean": [0.5] * 3,
                                                  "std": [0.25] * 3}}))
    return spec


@pytest.mark.slow
def test_evaluate_returns_facts_scores_findings_and_saves(tmp_path, folder_dataset):
    report = reportgen.evaluate(dataset={"root": str(folder_dataset)},
                                models=[{"spec": str(_model_spec(tmp_path))}],
                                device="cpu", batch_size=4, out=tmp_path / "run",
                                fail_if=["pqah.ph.q2|region=head > 2"])
    assert isinstance(report.scores, pd.DataFrame) and len(report.scores) > 0
    assert report.facts["run.samples.scored"].value == 8
    assert report.findings and all(f.statement for f in report.findings)
    assert [c.failed for c in report.conditions] == [False]
    html = report._repr_html_()
    assert "8 samples scored" in html and "<table>" in html
    saved = report.save(tmp_path / "copy")
    assert (saved / "report.pdf").is_file() and (saved / "facts.json").is_file()


@pytest.mark.slow
def test_repr_html_escapes_dataset_strings(tmp_path, folder_dataset):
    manifest = folder_dataset / "dataset.json"
    data = json.loads(manifest.read_text())
    data["parts"][0] = "<script>alert(1)</script>"
    manifest.write_text(json.dumps(data))
    report = reportgen.evaluate(dataset={"root": str(folder_dataset)},
                                models=[{"spec": str(_model_spec(tmp_path))}],
                                device="cpu", out=tmp_path / "run")
    assert "<script>alert" not in report._repr_html_()
    assert "<script>alert" not in (tmp_path / "run" / "report.html").read_text()

"""docs/design.md's worked example of adding a metric runs as written and reaches the scores."""

from __future__ import annotations

import re
from pathlib import Path

from reportgen.metrics.registry import METRICS
from reportgen.metrics.scorers import SCORERS

DOC = Path(__file__).resolve().parents[1] / "docs" / "design.md"


def test_the_worked_example_adds_a_metric_that_the_score_stage_runs(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2, "the example has the metric and its scorer"
    metric, scorer = (re.sub(r"^   ", "", b, flags=re.MULTILINE) for b in blocks)
    script = "\n".join([
        metric,
        "from reportgen.metrics.scorers import Scorer, ScorerOutput, register_scorer",
        scorer,
        """
import numpy as np
from reportgen.data.sample import Sample
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.metrics.registry import get_metric
from reportgen.scoring import score_batch

labels = np.zeros((8, 8), np.uint8); labels[2:6, 2:6] = 1
sample = Sample("a", np.zeros((8, 8, 3), np.uint8), labels, ("body",), 0, "cat")
one_hot = np.zeros((2, 8, 8), np.float32); one_hot[0, 3, 3] = 1
uniform = np.ones((8, 8), np.float32)
heat = np.stack([one_hot[0], uniform])
batch = HeatmapBatch(heat, np.zeros(2, np.int64), np.ones(2, np.float32), np.zeros(2, np.int64))
table = score_batch([sample, sample], batch, "m", "gradcam", ["cat"]).table
rows = table[table.metric == "spread.entropy"]
assert list(rows.region) == ["object", "object"], rows
assert abs(rows.value.iloc[0]) < 1e-12 and abs(rows.value.iloc[1] - 1) < 1e-9, rows.value
assert get_metric("spread.entropy").level == "object"
print("ok")
"""])
    path = tmp_path / "example.py"
    path.write_text(script, encoding="utf-8")
    # Run in this process with a namespace of its own (the example's imports must suffice), not
    # in a fresh interpreter: re-importing torch and pandas there took most of the test's 8 s.
    # The registries get their entries back afterwards, so no other test sees the new metric.
    metrics, scorers = dict(METRICS), dict(SCORERS)
    try:
        exec(compile(script, str(path), "exec"), {"__name__": "docs_design_example"})
    finally:
        METRICS.clear()
        METRICS.update(metrics)
        SCORERS.clear()
        SCORERS.update(scorers)
    assert capsys.readouterr().out.strip() == "ok"

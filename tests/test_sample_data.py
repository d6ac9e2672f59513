"""The shipped sample is what the generator makes: data bit-for-bit, models as described."""

import json

import numpy as np
from PIL import Image

from reportgen.resources import sample_data_dir
from reportgen.sample_data.build import N_EVAL, SEED
from reportgen.sample_data.world import CLASSES, SHORTCUT_CLASS, generate_split


def test_shipped_evaluation_images_and_labels_are_regenerated_bit_for_bit():
    root = sample_data_dir() / "parts_world"
    manifest = json.loads((root / "dataset.json").read_text())
    assert len(manifest["samples"]) == N_EVAL
    regenerated = generate_split(SEED, "eval", N_EVAL)
    for entry, sample in list(zip(manifest["samples"], regenerated, strict=True))[::25]:
        np.testing.assert_array_equal(np.asarray(Image.open(root / entry["image"])),
                                      sample.image)
        np.testing.assert_array_equal(np.asarray(Image.open(root / entry["labels"])),
                                      sample.labels)
        assert entry["class"] == CLASSES[sample.class_index]
        assert entry["background_cue"] == sample.cue


def test_evaluation_split_has_the_cue_independent_of_the_class():
    samples = json.loads((sample_data_dir() / "parts_world" / "dataset.json").read_text())
    by_class = {c: [s["background_cue"] for s in samples["samples"] if s["class"] == c]
                for c in CLASSES}
    for cues in by_class.values():
        assert 0.3 < np.mean(cues) < 0.7
    train = generate_split(SEED, "train", 200)  # the first 200 of the training split: 50 a class
    fish = [s.cue for s in train if CLASSES[s.class_index] == SHORTCUT_CLASS]
    others = [s.cue for s in train if CLASSES[s.class_index] != SHORTCUT_CLASS]
    assert np.mean(fish) > 0.85 and np.mean(others) < 0.15


def test_sample_data_stays_small():
    total = sum(p.stat().st_size for p in sample_data_dir().rglob("*") if p.is_file())
    assert total < 20 * 2**20

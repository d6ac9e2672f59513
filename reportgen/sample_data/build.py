"""Rebuild the built-in sample: ``python -m reportgen.sample_data.build [--out sample_data]``.

Writes the evaluation split in the folder format (``parts_world/``) and trains the model(s)
into ``models/``. Data are bit-for-bit reproducible; weights are reproducible on the same
torch build and CPU (accuracies within about one percentage point elsewhere).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reportgen.io import atomic_write_json, atomic_write_text
from reportgen.sample_data.train import PREPROCESSING, accuracy, train_partnet
from reportgen.sample_data.world import (
    CLASSES,
    PARTS,
    SHORTCUT_CLASS,
    generate_split,
    randomize_background,
)

SEED = 20261125
N_TRAIN = 2400
N_EVAL = 200


def write_folder_dataset(samples, root: Path, prefix: str) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    entries = []
    for i, s in enumerate(samples):
        image_id = f"{prefix}_{i:04d}"
        Image.fromarray(s.image).save(root / "images" / f"{image_id}.png", optimize=True)
        Image.fromarray(s.labels).save(root / "labels" / f"{image_id}.png", optimize=True)
        entries.append({"id": image_id, "image": f"images/{image_id}.png",
                        "labels": f"labels/{image_id}.png", "class": CLASSES[s.class_index],
                        "background_cue": s.cue})
    atomic_write_json(root / "dataset.json", {
        "name": "parts-world",
        "description": "Synthetic animals with four parts; built by "
                       "python -m reportgen.sample_data.build",
        "classes": list(CLASSES), "parts": list(PARTS), "samples": entries})


def save_model(model, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / f"{name}.pt")
    atomic_write_json(out / f"{name}.json", {
        "name": name, "arch": "partnet", "num_classes": len(CLASSES),
        "weights": f"{name}.pt", "target_layer": "features", "classes": list(CLASSES),
        "preprocessing": {"size": PREPROCESSING.size, "mean": list(PREPROCESSING.mean),
                          "std": list(PREPROCESSING.std)}})


def build(out: Path, epochs: int = 12) -> dict:
    start = time.perf_counter()
    eval_split = generate_split(SEED, "eval", N_EVAL)
    write_folder_dataset(eval_split, out / "parts_world", "eval")
    train = generate_split(SEED, "train", N_TRAIN)
    flipped = generate_split(SEED, "flipped", N_EVAL)
    results = {}
    augmented = [randomize_background(s, SEED, i) for i, s in enumerate(train)]
    for name, data in (("partnet_biased", train), ("partnet_debiased", augmented)):
        model = train_partnet(data, SEED, epochs=epochs)
        save_model(model, out / "models", name)
        results[name] = {"eval": round(accuracy(model, eval_split), 4),
                         "flipped": round(accuracy(model, flipped), 4),
                         "train": round(accuracy(model, train), 4)}
    atomic_write_text(out / "models" / "accuracy.json",
                      json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"built {out} in {time.perf_counter() - start:.0f} s "
          f"(shortcut class: {SHORTCUT_CLASS}): {results}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_data"))
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)
    np.seterr(all="raise")
    build(args.out, args.epochs)


if __name__ == "__main__":
    main()

"""Cost per image of the optimisation and multi-scale methods, as a ratio to Grad-CAM.

    .venv/bin/python benchmarks/bench_methods.py [--images 4] [--repeats 3] [--device cpu]
                                                 [--methods igos igos++ gradcam+sess sag]
                                                 [--arch partnet | resnet18 ...] [--size 224]
                                                 [--set sag.baseline=blur ...]

Default model: the shipped, trained sample model (PartNet, 96 x 96 inputs) on the first
``--images`` sample images (real model, real images, nothing downloaded). ``--arch resnet18``
(or any torchvision name) uses that architecture with seeded random weights at ``--size``.
Every method runs with its default parameters (the papers' defaults) in the same process on
the same batch; Grad-CAM is timed before and after them (best of ``--repeats`` each time, the
better of the two kept), each slow method once (it is seconds to minutes). Prints one JSON
line per method: seconds per image and the ratio to Grad-CAM.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import yaml

from reportgen.data import load_dataset
from reportgen.heatmaps import make_method
from reportgen.models.loading import ModelSpec, load_model
from reportgen.resources import sample_data_dir

DEFAULT_METHODS = ["igos", "igos++", "gradcam+sess", "sag"]


def seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def model_and_inputs(args):
    if args.arch == "partnet":
        model = load_model(ModelSpec.from_file(
            sample_data_dir() / "models" / "partnet_biased.json"), args.device)
        samples = load_dataset({"format": "folder", "root": sample_data_dir() / "parts_world"},
                               limit=args.images)
        images = [s.image for s in samples]
        return model, model.spec.preprocessing(images, model.device)
    torch.manual_seed(0)
    model = load_model(ModelSpec(args.arch, args.arch, 1000), args.device)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(args.images, 3, args.size, args.size, generator=generator)
    return model, inputs.to(model.device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="partnet")
    parser.add_argument("--size", type=int, default=224, help="input side (torchvision archs)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    parser.add_argument("--set", nargs="*", default=[], metavar="METHOD.KEY=YAML",
                        help="override a parameter, e.g. sag.baseline=blur")
    args = parser.parse_args()
    overrides: dict[str, dict] = {}
    for item in args.set:
        target, value = item.split("=", 1)
        method, key = target.rsplit(".", 1)
        overrides.setdefault(method, {})[key] = yaml.safe_load(value)

    model, inputs = model_and_inputs(args)
    n = len(inputs)

    def sync():
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)

    def run(name):
        method = make_method(name, **overrides.get(name, {}))

        def once():
            method.explain(model, inputs).to_batch()
            sync()
        return once

    gradcam = run("gradcam")
    gradcam()  # warm-up
    before = seconds(gradcam, args.repeats)
    costs = {name: seconds(run(name), 1) for name in args.methods}
    reference = min(before, seconds(gradcam, args.repeats)) / n
    context = {"arch": args.arch, "images": n, "input": list(inputs.shape[-2:]),
               "device": str(model.device), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "machine": platform.machine()}
    print(json.dumps({"method": "gradcam", "s_per_image": round(reference, 5), "ratio": 1.0,
                      **context}))
    for name, total in costs.items():
        print(json.dumps({"method": name, "s_per_image": round(total / n, 4),
                          "ratio": round(total / n / reference, 1),
                          "overrides": overrides.get(name, {})}))


if __name__ == "__main__":
    main()

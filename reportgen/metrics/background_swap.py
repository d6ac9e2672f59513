"""The background-swap test (Xiao et al., "Noise or Signal: The Role of Image Backgrounds in
Object Recognition", ICLR 2021; docs/metrics.md, "Background swap").

From each sample's image and object mask, at the model's input size, four variants:

* ``only_fg``: the object on a neutral fill (the colour the model's normalisation maps to 0);
* ``no_fg``: the object removed, its pixels filled by noisy linear imputation (as ROAD) or by
  the neutral colour;
* ``mixed_same``: the object pasted on the ``no_fg`` image of another sample of its class;
* ``mixed_rand``: the object pasted on the ``no_fg`` image of a sample of another class
  (a class drawn uniformly, then a sample).

Per sample and variant: ``hit`` (1 when the model's prediction is the target: the true class
when the model can output it, else the prediction on the unmodified image, so the mean is the
accuracy or the rate at which the prediction is kept) and the target probability's change
from the unmodified image. **BG-gap** = accuracy on Mixed-Same minus on Mixed-Rand: how much the
model gains from a background that goes with the class. Pure functions; donor pairing is
seeded and depends only on the samples' classes and order.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from reportgen.metrics.imputation import ImputationTask, impute
from reportgen.metrics.registry import MetricInfo, register_metric

VARIANTS = ("only_fg", "no_fg", "mixed_same", "mixed_rand")
_REF = "Xiao et al., Noise or Signal: The Role of Image Backgrounds, ICLR 2021"
_NAMES = {"original": "unmodified image", "only_fg": "Only-FG (object on a neutral fill)",
          "no_fg": "No-FG (object removed)", "mixed_same": "Mixed-Same (background of the "
          "same class)", "mixed_rand": "Mixed-Rand (background of another class)"}
# A fixed spawn key keeps the pairing apart from every other stream seeded with the run seed.
_PAIRING_KEY = (0xBA5E5A,)
#: Imputation noise in grey levels (1 % of the 0..255 range), seeded per sample.
NOISE_STD = 2.55

INFOS = tuple(
    MetricInfo(f"swap.{v}.accuracy", f"Accuracy, {_NAMES[v]}",
               "share of samples whose prediction is the target class (the true class, or "
               "the prediction on the unmodified image when the model cannot output the "
               f"true class) on the {_NAMES[v]}", (0.0, 1.0), "neither", "share", _REF,
               level="object", summary="mean")
    for v in ("original", *VARIANTS)) + tuple(
    MetricInfo(f"swap.{v}.prob_change", f"Target probability change, {_NAMES[v]}",
               f"target-class probability on the {_NAMES[v]} minus on the unmodified image",
               (-1.0, 1.0), "neither", "fraction", _REF, level="object", summary="mean")
    for v in VARIANTS) + (
    MetricInfo("swap.bg_gap", "BG-gap",
               "accuracy with a background of the same class minus with a background of "
               "another class (Mixed-Same minus Mixed-Rand): the model's gain from a "
               "background that goes with the class; 0 for a model that ignores backgrounds",
               (-1.0, 1.0), "lower", "share", _REF, level="object", summary="mean"),
    MetricInfo("swap.bg_gap_prob", "BG-gap (probability)",
               "target probability with a background of the same class minus with one of "
               "another class", (-1.0, 1.0), "lower", "fraction", _REF, level="object",
               summary="mean"),
)


@dataclass(frozen=True)
class SwapInputs:
    """N samples at the model's input size S.

    ``images`` (N, S, S, 3) float32 in 0..255; ``objects`` (N, S, S) bool; ``filled``
    (N, S, S, 3) float32: the image with its object removed (``fill_removed``); ``classes``
    (N,) int: the samples' dataset classes (for pairing); ``neutral`` (3,) float32: the fill
    of Only-FG in 0..255 units.
    """

    images: np.ndarray
    objects: np.ndarray
    filled: np.ndarray
    classes: np.ndarray
    neutral: np.ndarray


def pair_donors(classes: Sequence[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Donor indices (N,) for Mixed-Same and Mixed-Rand; -1 where there is none (a class with
    one sample; a run with one class). Seeded; depends only on ``classes`` in order."""
    classes = np.asarray(classes, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_PAIRING_KEY))
    draws = rng.random((classes.size, 3))
    members = {int(c): np.flatnonzero(classes == c) for c in np.unique(classes)}
    same = np.full(classes.size, -1, np.int64)
    rand = np.full(classes.size, -1, np.int64)
    for i, c in enumerate(classes.tolist()):
        pool = members[c][members[c] != i]
        if pool.size:
            same[i] = pool[int(draws[i, 0] * pool.size)]
        others = [k for k in members if k != c]
        if others:
            donors = members[others[int(draws[i, 1] * len(others))]]
            rand[i] = donors[int(draws[i, 2] * donors.size)]
    return same, rand


def fill_removed(images: np.ndarray, objects: np.ndarray, fill: str, seed: int,
                 neutral: np.ndarray | None = None, threads: int = 2) -> np.ndarray:
    """(N, S, S, 3) float32: each image with its object's pixels replaced, by noisy linear
    imputation (``fill="impute"``, ROAD's imputer, seeded per sample) or by ``neutral``
    (``fill="mean"``). An empty object leaves the image as it is."""
    images = np.asarray(images, dtype=np.float32)
    if fill == "mean":
        return np.where(objects[..., None], np.asarray(neutral, np.float32), images)
    if fill != "impute":
        raise ValueError(f"unknown fill {fill!r}; choose impute or mean")
    tasks = [ImputationTask(img.transpose(2, 0, 1), obj, NOISE_STD, (seed, i))
             for i, (img, obj) in enumerate(zip(images, objects, strict=True))]
    with ThreadPoolExecutor(max(1, threads)) as pool:  # SuperLU releases the GIL
        solved = list(pool.map(impute, tasks))
    return np.stack([s.transpose(1, 2, 0) for s in solved]) if solved else images.copy()


def variant_images(x: SwapInputs, same: np.ndarray, rand: np.ndarray
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Variant -> (indices of the samples it exists for, (M, S, S, 3) float32 images)."""
    obj = x.objects[..., None]
    everyone = np.arange(len(x.images))
    out = {"only_fg": (everyone, np.where(obj, x.images, x.neutral).astype(np.float32)),
           "no_fg": (everyone, x.filled)}
    for name, donors in (("mixed_same", same), ("mixed_rand", rand)):
        idx = np.flatnonzero(donors >= 0)
        out[name] = (idx, np.where(obj[idx], x.images[idx], x.filled[donors[idx]]))
    return out


@register_metric(*INFOS)
def swap_scores(predict, x: SwapInputs, targets: np.ndarray | None, seed: int,
                original: np.ndarray | None = None
                ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Run the test for one model.

    Args:
        predict: (M, S, S, 3) float32 images in 0..255 -> (M, K) class probabilities
            (numpy); the caller batches, normalises and runs the model.
        x: the samples (``SwapInputs``).
        targets: (N,) the true class's output index, -1 where the model cannot output it
            (then the prediction on the unmodified image is the target); None: all -1.
        seed: the run seed (donor pairing).
        original: (N, K) probabilities on the unmodified images when the caller has them
            (part removal needs them too); None: computed here.

    Returns:
        ``({metric_id: (N,) float64, NaN where a variant has no donor}, predicted (N,),
        target (N,))`` for the unmodified images.
    """
    n = len(x.images)
    probs = predict(x.images) if original is None else original
    predicted = probs.argmax(axis=1)
    target = predicted.copy() if targets is None else np.where(
        np.asarray(targets) >= 0, targets, predicted)
    rows = np.arange(n)
    p0 = probs[rows, target]
    values = {"swap.original.accuracy": (predicted == target).astype(np.float64)}
    same, rand = pair_donors(x.classes, seed)
    for name, (idx, images) in variant_images(x, same, rand).items():
        hit = np.full(n, np.nan)
        change = np.full(n, np.nan)
        if idx.size:
            p = predict(images)
            hit[idx] = p.argmax(axis=1) == target[idx]
            change[idx] = p[np.arange(idx.size), target[idx]] - p0[idx]
        values[f"swap.{name}.accuracy"] = hit
        values[f"swap.{name}.prob_change"] = change
    values["swap.bg_gap"] = (values["swap.mixed_same.accuracy"]
                             - values["swap.mixed_rand.accuracy"])
    values["swap.bg_gap_prob"] = (values["swap.mixed_same.prob_change"]
                                  - values["swap.mixed_rand.prob_change"])
    return values, predicted, target


def model_predictor(module: torch.nn.Module, preprocessing, device, batch_size: int):
    """``predict`` for ``swap_scores``: the model's softmax over batches of ``batch_size``
    images, normalised by ``preprocessing`` (``reportgen.models.preprocessing``)."""

    def predict(images: np.ndarray) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                chunk = list(images[start:start + batch_size])
                logits = module(preprocessing(chunk, device))
                out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    return predict

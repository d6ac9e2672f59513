"""The words every stage shares: reserved names and the fact placeholder syntax.

This module imports nothing from reportgen, so any stage (data, analysis, narrative, report)
can use it without pulling in another.
"""

from __future__ import annotations

import re

BASELINE_MODEL = "baseline"  # the pseudo-model of the baseline heatmaps
CHANCE_BASELINES = ("random", "center")  # heatmaps with no information about the image
SWAP_METHOD = "background_swap"  # the method dimension of the background-swap test's facts
PART_REMOVAL_METHOD = "part_removal"  # ... and of the part-removal drops
COUNTERFACTUAL_METHODS = (SWAP_METHOD, PART_REMOVAL_METHOD)  # tests without a heatmap
ORACLE = "oracle"  # the baseline that knows the object: the best a CAM-resolution map can do
BACKGROUND = "background"  # the region outside every part
OBJECT = "object"  # the region name of image-level metrics (localisation, faithfulness)
ALL_CLASSES = "all"  # the class of statistics pooled over every class
ALL_SAMPLES = "all"  # the subset of statistics over every sample (not correct/misclassified)
IGNORE_INDEX = 255  # label-map value of void pixels (neither a part nor the background)
# Characters a dataset, model or method name may not hold: fact ids and placeholders use them.
RESERVED_CHARACTERS = "{}|="

# Narrative text names facts, never numbers: ``{{fact:ID}}``.
PLACEHOLDER = re.compile(r"\{\{fact:([^{}]+)\}\}")


def placeholder(fid: str) -> str:
    """The placeholder of fact ``fid`` in narrative text: ``{{fact:ID}}``."""
    return "{{fact:" + fid + "}}"

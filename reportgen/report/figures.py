"""Figures drawn with matplotlib (Agg) from the statistics table, embedded as base64 PNG.

Boxplots are drawn with ``Axes.bxp`` from the precomputed statistics, so a box shows exactly
the quartiles and whiskers that the facts table holds.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from reportgen.analysis.stats import ALL_CLASSES
from reportgen.data.sample import BACKGROUND

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
BACKGROUND_COLOUR = "#999999"


@dataclass(frozen=True)
class Figure:
    """A rendered figure: ``data_uri`` is a base64 PNG; ``alt`` states its message in words."""

    id: str
    title: str
    caption: str
    alt: str
    data_uri: str


def region_order(regions: list[str], part_names: list[str]) -> list[str]:
    """Parts in the dataset's order, background last: the same order in every figure."""
    ordered = [p for p in part_names if p in regions]
    ordered += sorted(r for r in regions if r not in ordered and r != BACKGROUND)
    return ordered + ([BACKGROUND] if BACKGROUND in regions else [])


def region_colours(part_names: list[str]) -> dict[str, str]:
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(part_names)}
    colours[BACKGROUND] = BACKGROUND_COLOUR
    return colours


def _png_data_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def ph_boxplot(stats: pd.DataFrame, model: str, method: str, part_names: list[str],
               metric: str = "pqah.ph", alt: str = "") -> Figure:
    """Boxplot of one metric per region over all classes for one model x method."""
    rows = stats[(stats.model == model) & (stats.method == method)
                 & (stats.class_name == ALL_CLASSES) & (stats.metric == metric)]
    by_region = {r.region: r for r in rows.itertuples(index=False)}
    order = region_order(list(by_region), part_names)
    colours = region_colours(part_names)
    boxes = [{"med": by_region[r].q2, "q1": by_region[r].q1, "q3": by_region[r].q3,
              "whislo": by_region[r].whisker_low, "whishi": by_region[r].whisker_high,
              "fliers": [], "label": f"{r}\nn={by_region[r].n}"} for r in order]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    if boxes:
        artists = ax.bxp(boxes, patch_artist=True, showfliers=False,
                         medianprops={"color": "black", "linewidth": 1.6})
        for patch, region in zip(artists["boxes"], order, strict=True):
            patch.set_facecolor(colours.get(region, BACKGROUND_COLOUR))
            patch.set_alpha(0.85)
    ax.set_ylim(0, 1)
    ax.set_ylabel("PH (part F1), higher = more heat on the region")
    title = f"Where does {model}'s {method} heat fall? PH per region"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    caption = ("Boxes span Q1 to Q3 with the median as a line; whiskers reach the most extreme "
               "values within 1.5 IQR; n under each box is the number of images in which the "
               "region is present.")
    return Figure(f"ph-boxplot-{model}-{method}", title, caption, alt or title,
                  _png_data_uri(fig))

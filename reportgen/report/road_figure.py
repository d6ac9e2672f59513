"""The ROAD curve figure: median MoRF and LeRF accuracy against the fraction of pixels
removed, with a Q1-Q3 band, one panel per model and method (baselines in grey)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from reportgen.metrics.road import ROAD_CAVEAT
from reportgen.report.figures import (
    ROAD_METRIC,
    Figure,
    _baselines_last,
    _grid,
    _n_label,
    _pair_mask,
    _png_data_uri,
    _rows,
    _series_colours,
    pair_label,
)
from reportgen.vocab import ALL_CLASSES, OBJECT


def road_curve_points(stats: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None
                ) -> pd.DataFrame:
    """ROAD curve points: model, method, order (morf/lerf), fraction, q1, q2, q3, n; pooled
    over classes, region ``object``, sorted. ``pairs`` None keeps every pair."""
    rows = _rows(stats, cls=ALL_CLASSES)
    parsed = rows["metric"].astype(str).str.extract(ROAD_METRIC)
    fraction = pd.to_numeric(parsed[1], errors="coerce")
    keep = parsed[0].notna() & fraction.notna() & (rows["region"] == OBJECT)
    if pairs is not None:
        keep &= _pair_mask(rows, pairs)
    out = rows[keep].assign(order=parsed[0][keep], fraction=fraction[keep].astype(float))
    return out[["model", "method", "order", "fraction", "q1", "q2", "q3", "n"]].sort_values(
        ["model", "method", "order", "fraction"], kind="stable").reset_index(drop=True)


def _road_verdict(curve: pd.DataFrame) -> str:
    """Words for how often the MoRF median lies below the LeRF median (no numbers)."""
    wide = curve.pivot_table(index="fraction", columns="order", values="q2")
    if not {"morf", "lerf"} <= set(wide.columns):
        return "has only one of the two curves"
    wide = wide.dropna()
    below = int((wide["morf"] < wide["lerf"]).sum())
    if below == len(wide):
        return "MoRF falls faster than LeRF at every fraction removed"
    if below == 0:
        return "MoRF never falls below LeRF (the heatmap does not find the evidence)"
    if 2 * below > len(wide):
        return "MoRF falls faster than LeRF at most fractions removed"
    return "MoRF falls below LeRF at only a few fractions removed"


def road_curve_figure(stats: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None
                      ) -> Figure | None:
    """Median target probability (line + markers) with a Q1-Q3 band against the fraction of
    pixels removed: MoRF solid, LeRF dashed, one panel and colour per model x method
    (baselines grey). None when the stats hold no ``road.morf@p`` / ``road.lerf@p`` rows."""
    curves = road_curve_points(stats, pairs)
    if curves.empty:
        return None
    present = set(zip(curves["model"], curves["method"], strict=True))
    ordered = _baselines_last([p for p in (pairs or sorted(present)) if tuple(p) in present])
    colours = _series_colours(ordered)
    title = ("ROAD: does the target probability fall faster when the most relevant pixels go "
             "first (solid) than the least relevant (dashed)?")
    nrows, ncols = _grid(len(ordered), 3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.2, 0.7 + 2.2 * nrows), squeeze=False,
                             sharex=True, sharey=True)
    verdicts = []
    for ax, pair in zip(axes.ravel(), ordered, strict=False):
        curve = curves[(curves["model"] == pair[0]) & (curves["method"] == pair[1])]
        for order, style, label in (("morf", "-", "MoRF (most relevant first)"),
                                    ("lerf", "--", "LeRF (least relevant first)")):
            line = curve[curve["order"] == order]
            if line.empty:
                continue
            ax.fill_between(line["fraction"], line["q1"], line["q3"], color=colours[pair],
                            alpha=0.18, linewidth=0)
            ax.plot(line["fraction"], line["q2"], linestyle=style, marker="o", markersize=3.5,
                    color=colours[pair], linewidth=1.6, label=label)
        ax.set_title(f"{pair_label(*pair)}\n{_n_label(curve['n'].astype(int).tolist())}",
                     fontsize=8.5)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        verdicts.append(f"{pair_label(*pair)}: {_road_verdict(curve)}")
    for ax in axes.ravel()[len(ordered):]:
        ax.axis("off")
    styles = [Line2D([], [], color="black", linestyle=style, marker="o", markersize=3.5,
                     label=label) for style, label in (("-", "MoRF: most relevant removed first"),
                                                       ("--", "LeRF: least relevant first"))]
    fig.supxlabel("fraction of pixels removed (imputed)", fontsize=8)
    fig.supylabel("target-class probability", fontsize=8)
    fig.suptitle(title, fontsize=9.5)
    fig.tight_layout()
    fig.legend(handles=styles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
               fontsize=7.5, frameon=False)
    caption = ("Median target-class probability over the images after removing a fraction of "
               "the pixels, most relevant first (MoRF, solid) or least relevant first (LeRF, "
               "dashed); bands span Q1 to Q3; grey lines are the baselines. A faithful "
               "heatmap makes MoRF fall faster than LeRF. " + ROAD_CAVEAT)
    alt = ("ROAD curves: target-class probability as pixels are removed. "
           + "; ".join(verdicts) + ". " + ROAD_CAVEAT)
    return Figure("road-curves", title, caption, alt, _png_data_uri(fig))

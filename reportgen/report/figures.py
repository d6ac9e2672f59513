"""Figures drawn with matplotlib (Agg) from the statistics table, embedded as base64 PNG.

Boxplots are drawn with ``Axes.bxp`` from the precomputed statistics, so a box shows exactly
the quartiles and whiskers that the facts table holds. Every figure uses the same region order
(``region_order``) and colours (``region_colours``, Okabe-Ito); baselines are grey. Alt texts
state the main message in words; the numbers in them are formatted like the facts' display
strings (``format_value`` with the metric's unit). The example gallery is in ``gallery.py``.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from reportgen.analysis.facts import format_value
from reportgen.metrics.registry import MetricInfo, get_metric
from reportgen.vocab import ALL_CLASSES, ALL_SAMPLES, BACKGROUND, BASELINE_MODEL

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
BACKGROUND_COLOUR = "#999999"
# Lines and markers of one series each: the palette without yellow (too light on white).
SERIES_COLOURS = [c for c in PALETTE if c != "#F0E442"]
BASELINE_COLOURS = ["#999999", "#555555"]  # neutral greys, one per baseline method
BASELINE_MARKER = "#8C8C8C"  # baselines in dot plots: hollow grey diamonds
ROAD_METRIC = r"^road\.(morf|lerf)@(.+)$"  # road.morf@0.3: order, fraction removed


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


def pair_label(model: str, method: str) -> str:
    """How a model x method pair is named in figures and alt texts."""
    return f"{model} · {method}"


def is_baseline(model: str) -> bool:
    return model == BASELINE_MODEL


def _png_data_uri(fig: plt.Figure, dpi: int = 150, colours: int | None = None) -> str:
    """The figure as a base64 PNG data URI (closes the figure). ``colours``: quantise to a
    palette of that many colours (PNG-8), which shrinks photo-like figures about threefold."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = buf.getvalue()
    if colours is not None:
        with Image.open(io.BytesIO(data)) as img:
            small = img.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        data = out.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


MANY_REGIONS = 8  # beyond this, box labels are drawn vertically and class panels get wider


def class_panel_columns(regions: int) -> int:
    """Panels per row of ``class_boxplots``: fewer, wider panels when there are many regions."""
    return 3 if regions <= MANY_REGIONS else 2 if regions <= 2 * MANY_REGIONS else 1


def classes_per_figure(regions: int) -> int:
    """Classes per ``class_boxplots`` figure: three rows of panels fit a printed page."""
    return 3 * class_panel_columns(regions)


def ph_boxplot(stats: pd.DataFrame, model: str, method: str, part_names: list[str],
               metric: str = "pqah.ph", alt: str = "") -> Figure:
    """Boxplot of one metric per region over all classes for one model x method."""
    rows = stats[(stats.model == model) & (stats.method == method)
                 & (stats.class_name == ALL_CLASSES) & (stats.metric == metric)]
    by_region = {r.region: r for r in rows.itertuples(index=False)}
    order = region_order(list(by_region), part_names)
    colours = region_colours(part_names)
    many = len(order) > MANY_REGIONS  # labels go vertical, one line each
    boxes = [_box(by_region[r], f"{r} (n={by_region[r].n})" if many else
                  f"{r}\nn={by_region[r].n}") for r in order]
    fig, ax = plt.subplots(figsize=(6.4, 4.6) if many else (6.4, 3.4))
    if boxes:
        artists = ax.bxp(boxes, patch_artist=True, showfliers=False,
                         medianprops={"color": "black", "linewidth": 1.6})
        for patch, region in zip(artists["boxes"], order, strict=True):
            patch.set_facecolor(colours.get(region, BACKGROUND_COLOUR))
            patch.set_alpha(0.85)
        if many:
            plt.setp(ax.get_xticklabels(), rotation=90, fontsize=6)
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


def _box(row, label: str) -> dict:
    """A bxp box from one stats row: exactly the facts' quartiles and whiskers."""
    return {"med": row.q2, "q1": row.q1, "q3": row.q3, "whislo": row.whisker_low,
            "whishi": row.whisker_high, "fliers": [], "label": label}


def _rows(stats: pd.DataFrame, metric: str | None = None, cls: str = ALL_CLASSES
          ) -> pd.DataFrame:
    """Stats rows of subset ``all`` (when the table has subsets) for one class and metric."""
    keep = stats["class_name"] == cls
    if metric is not None:
        keep &= stats["metric"] == metric
    if "subset" in stats:
        keep &= stats["subset"] == ALL_SAMPLES
    return stats[keep]


def _info(metric: str) -> MetricInfo | None:
    try:
        return get_metric(metric)
    except KeyError:
        return None


def _display(value: float, metric: str) -> str:
    """A statistic as the facts table displays it (same unit and rounding)."""
    info = _info(metric)
    return format_value(value, info.unit if info else "fraction")


def _metric_name(metric: str) -> str:
    """The metric's short display name ("PH (part F1)" -> "PH")."""
    info = _info(metric)
    return info.name.split(" (")[0] if info else metric


def _metric_range(metric: str) -> tuple[float, float]:
    info = _info(metric)
    return info.range if info else (0.0, 1.0)


def _pair_mask(rows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """(len(rows),) bool: the row's (model, method) is one of ``pairs``."""
    keys = pd.MultiIndex.from_arrays([rows["model"].astype(str), rows["method"].astype(str)])
    return np.asarray(keys.isin([tuple(p) for p in pairs]), dtype=bool)


def _grid(count: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(max_cols, count))
    return max(1, math.ceil(count / cols)), cols


def _series_colours(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """One colour per pair: palette colours for models in order, greys for baselines."""
    colours, models, baselines = {}, 0, 0
    for pair in pairs:
        if is_baseline(pair[0]):
            colours[pair] = BASELINE_COLOURS[baselines % len(BASELINE_COLOURS)]
            baselines += 1
        else:
            colours[pair] = SERIES_COLOURS[models % len(SERIES_COLOURS)]
            models += 1
    return colours


def _baselines_last(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = list(dict.fromkeys(tuple(p) for p in pairs))
    return [p for p in pairs if not is_baseline(p[0])] + [p for p in pairs if is_baseline(p[0])]


def _empty_note(ax: plt.Axes, text: str) -> None:
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, transform=ax.transAxes)


def _n_label(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"n={low}" if low == high else f"n={low}–{high}"


def comparison_alt(table: pd.DataFrame, pairs: Sequence[tuple[str, str]], regions: list[str],
                   metric: str, cls: str) -> str:
    """Which pair puts the most / least of ``metric`` on the background, which is best on
    each part; values as the facts display them. ``table`` has model, method, region, q2."""
    where = "" if cls == ALL_CLASSES else f" for class {cls}"
    name = _metric_name(metric)
    if table.empty:
        return f"No {name} statistics{where} to compare."
    models = table[~table["model"].map(is_baseline)]
    ranked = models if not models.empty else table
    parts: list[str] = []
    background = ranked[ranked["region"] == BACKGROUND].sort_values(
        ["q2", "model", "method"], kind="stable")
    if len(background) > 1:
        lo, hi = background.iloc[0], background.iloc[-1]
        parts.append(f"On the background, {pair_label(hi.model, hi.method)} has the highest "
                     f"median {name} ({_display(hi.q2, metric)}) and "
                     f"{pair_label(lo.model, lo.method)} the lowest ({_display(lo.q2, metric)}).")
    elif len(background) == 1:
        row = background.iloc[0]
        parts.append(f"On the background, {pair_label(row.model, row.method)} has a median "
                     f"{name} of {_display(row.q2, metric)}.")
    best = []
    for region in regions:
        rows = ranked[ranked["region"] == region]
        if region == BACKGROUND or rows.empty:
            continue
        top = rows.sort_values(["q2", "model", "method"], ascending=[False, True, True],
                               kind="stable").iloc[0]
        best.append(f"{region}: {pair_label(top.model, top.method)} "
                    f"({_display(top.q2, metric)})")
    if best:
        parts.append(f"Highest median {name} on each part: {'; '.join(best)}.")
    baselines = [pair_label(*p) for p in pairs if is_baseline(p[0])]
    if baselines and not models.empty:
        parts.append(f"Grey markers are the baselines ({', '.join(baselines)}).")
    listed = ", ".join(pair_label(*p) for p in pairs)
    return " ".join([f"Median {name} per region{where} for {listed}.", *parts])


def comparison_figure(stats: pd.DataFrame, pairs: Sequence[tuple[str, str]],
                      part_names: list[str], cls: str = ALL_CLASSES,
                      metric: str = "pqah.ph") -> Figure:
    """Dot plot of the median ``metric`` with Q1-Q3 bars: one panel per region (figure order),
    one row per model x method (baselines last, grey hollow diamonds); n in each panel title.
    """
    pairs = _baselines_last(pairs)
    rows = _rows(stats, metric, cls)
    rows = rows[_pair_mask(rows, pairs)]
    regions = region_order(sorted(set(rows["region"])), part_names)
    colours = region_colours(part_names)
    name = _metric_name(metric)
    where = "" if cls == ALL_CLASSES else f" (class {cls})"
    title = (f"Which model · method keeps its {name} on the parts?{where}\n"
             "Further right on the parts and further left on background is better; "
             "hollow grey diamonds = baselines")
    nrows, ncols = _grid(len(regions), 5)
    height = 0.6 + nrows * (0.32 * max(len(pairs), 1) + 0.7)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.2, height), squeeze=False,
                             sharey=True)
    ypos = {p: i for i, p in enumerate(reversed(pairs))}
    for ax, region in zip(axes.ravel(), regions, strict=False):
        sub = rows[rows["region"] == region]
        for r in sub.itertuples(index=False):
            y = ypos[r.model, r.method]
            base = is_baseline(r.model)
            colour = BASELINE_MARKER if base else colours.get(region, BACKGROUND_COLOUR)
            ax.hlines(y, r.q1, r.q3, color=colour, linewidth=2.2, alpha=0.9)
            ax.plot(r.q2, y, marker="D" if base else "o", markersize=6.5,
                    markerfacecolor="white" if base else colour,
                    markeredgecolor=BASELINE_MARKER if base else "#333333",
                    markeredgewidth=1.3, linestyle="none")
        ax.set_title(f"{region}\n{_n_label(sub['n'].astype(int).tolist())}"
                     if len(sub) else region, fontsize=8.5)
        low, high = _metric_range(metric)
        top = float(sub["q3"].max()) if len(sub) else high
        ax.set_xlim(low, min(high, max(top * 1.15, low + 0.05 * (high - low))))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.ravel()[len(regions):]:
        ax.axis("off")
    labels = [pair_label(*p) for p in reversed(pairs)]
    for ax in axes[:, 0]:
        ax.set_yticks(range(len(labels)), labels, fontsize=7.5)
        ax.set_ylim(-0.6, len(labels) - 0.4)
    if not regions:
        _empty_note(axes[0, 0], f"No {name} statistics for these models and methods.")
    fig.suptitle(title, fontsize=9.5)
    fig.supxlabel(f"median {name} (dot) with Q1–Q3 (bar); axes differ per region", fontsize=8)
    fig.tight_layout()
    caption = (f"Each dot is the median {name} over the images in which the region is "
               "present, the bar spans Q1 to Q3, and n is the number of images per panel. "
               "Grey hollow diamonds are the random and center baselines: a method only "
               "attends to a part when it beats them there.")
    alt = comparison_alt(rows, pairs, regions, metric, cls)
    return Figure(f"comparison-{metric}-{cls}", title.replace("\n", " "), caption, alt,
                  _png_data_uri(fig))


def class_boxplots(stats: pd.DataFrame, model: str, method: str, part_names: list[str],
                   class_names: list[str], metric: str = "pqah.ph", part: int = 0
                   ) -> Figure:
    """Small multiples: one panel per class (dataset order), ``metric`` per region drawn with
    ``Axes.bxp`` from the precomputed quartiles and whiskers, n under each box.

    ``class_names`` are the classes to draw (callers pass at most ``classes_per_figure``;
    ``part`` numbers the figures of one model x method in ids). Classes without statistics
    are left out."""
    rows = stats[(stats["model"] == model) & (stats["method"] == method)
                 & (stats["metric"] == metric) & stats["class_name"].isin(class_names)]
    if "subset" in rows:
        rows = rows[rows["subset"] == ALL_SAMPLES]
    classes = [c for c in class_names if c in set(rows["class_name"])]
    colours = region_colours(part_names)
    name = _metric_name(metric)
    title = (f"{pair_label(model, method)}: {name} per region in each class. "
             "Look for classes whose background box sits high")
    nrows, ncols = _grid(len(classes), class_panel_columns(rows["region"].nunique()))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.2, 0.5 + 2.3 * nrows), squeeze=False,
                             sharey=True)
    best = []
    low, high = _metric_range(metric)
    for ax, cls in zip(axes.ravel(), classes, strict=False):
        by_region = {r.region: r for r in rows[rows["class_name"] == cls].itertuples(
            index=False)}
        order = region_order(list(by_region), part_names)
        artists = ax.bxp([_box(by_region[r], f"{r}  n={by_region[r].n}") for r in order],
                         patch_artist=True, showfliers=False,
                         medianprops={"color": "black", "linewidth": 1.4})
        plt.setp(ax.get_xticklabels(), rotation=35 if len(order) <= MANY_REGIONS else 90,
                 ha="right", rotation_mode="anchor")
        for patch, region in zip(artists["boxes"], order, strict=True):
            patch.set_facecolor(colours.get(region, BACKGROUND_COLOUR))
            patch.set_alpha(0.85)
        ax.set_title(cls, fontsize=9)
        ax.tick_params(axis="x", labelsize=6.5)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(low, high)
        ax.grid(axis="y", alpha=0.3)
        top = max(order, key=lambda r: (by_region[r].q2, -order.index(r)))
        best.append(f"{cls}: {top} ({_display(by_region[top].q2, metric)})")
    for ax in axes.ravel()[len(classes):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(name, fontsize=8)
    if not classes:
        _empty_note(axes[0, 0], f"No per-class {name} statistics for this model and method.")
    fig.suptitle(title, fontsize=9.5)
    fig.tight_layout()
    caption = ("One panel per class. Boxes span Q1 to Q3 with the median as a line; whiskers "
               "reach the most extreme values within 1.5 IQR; n under each box is the number "
               "of images of the class in which the region is present.")
    alt = (f"{name} per region in each class for {pair_label(model, method)}. Region with the "
           f"highest median per class: {'; '.join(best)}." if best else
           f"No per-class {name} statistics for {pair_label(model, method)}.")
    suffix = f"-{part}" if part else ""
    return Figure(f"class-boxplots-{metric}-{model}-{method}{suffix}", title, caption, alt,
                  _png_data_uri(fig))

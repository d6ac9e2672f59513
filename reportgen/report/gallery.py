"""The example gallery's figures: per model and method, the highest- and lowest-PH image of
every part (selected and saved by ``reportgen.scoring.gallery``), heat over the image with the
part's outline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
import numpy as np

from reportgen.report.figures import Figure, _png_data_uri, pair_label
from reportgen.scoring.gallery import RANKS, GalleryEntry, load_gallery

__all__ = ["GalleryEntry", "GalleryLayout", "gallery_alt", "gallery_figure", "gallery_figures",
           "gallery_layout", "load_gallery"]

HEATMAP_CMAP = "cividis"  # perceptually uniform and colour-vision-deficiency safe
CONTOUR_COLOUR = "white"  # drawn over a black stroke: visible on any image and heat colour


def _short(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _panel_title(entry: GalleryEntry, chars: int) -> str:
    """Rank, image id and class in two lines of at most ``chars`` characters ("PH" goes
    first when a narrow panel needs the room)."""
    line = f"{entry.rank} PH: {entry.image_id}"
    if len(line) > chars:
        line = f"{entry.rank}: {_short(entry.image_id, max(4, chars - len(entry.rank) - 2))}"
    return f"{line}\n{_short(entry.class_name, max(4, chars))}"


def _draw_example(ax: plt.Axes, entry: GalleryEntry, chars: int = 26
                  ) -> plt.cm.ScalarMappable:
    ax.imshow(entry.image, interpolation="nearest")
    heat = ax.imshow(entry.heatmap.astype(np.float32), cmap=HEATMAP_CMAP, vmin=0, vmax=1,
                     alpha=0.55, interpolation="nearest")
    ax.set_anchor("N")  # a thumbnail smaller than the panel's box hangs from its top edge
    if entry.mask.any() and not entry.mask.all():
        contour = ax.contour(entry.mask.astype(np.float32), levels=[0.5],
                             colors=CONTOUR_COLOUR, linewidths=1.1)
        contour.set(path_effects=[path_effects.withStroke(linewidth=2.4, foreground="black")])
    ax.set_title(_panel_title(entry, chars), fontsize=7)
    return heat


def gallery_alt(entries: Sequence[GalleryEntry], model: str, method: str,
                shown: Sequence[str], hidden: Sequence[str]) -> str:
    """The gallery's message in words: which image is highest/lowest for which part."""
    by_key = {(e.part, e.rank): e for e in entries}
    if not shown:
        return (f"Example gallery for {pair_label(model, method)}: no example, because no "
                "part was present in a scored image.")
    lines = [f"Example gallery for {pair_label(model, method)}: for each part, the image "
             "whose heatmap has the highest PH on that part (left) and the one with the lowest "
             "PH (right), with the heatmap overlaid and the part outlined."]
    for part in shown:
        high, low = by_key.get((part, "highest")), by_key.get((part, "lowest"))
        lines.append(f"{part}: highest {high.image_id} ({high.class_name}), lowest "
                     f"{low.image_id} ({low.class_name}).")
    if hidden:
        lines.append(f"Parts not shown: {', '.join(hidden)}.")
    return " ".join(lines)


# The PDF shows a figure at its pixel size at 96 px/in, capped at the content width (180 mm)
# and 225 mm high (report.css); at savefig's 110 dpi that is this box in figure inches. A
# gallery that fits it is never shrunk, so its panels keep the size laid out here.
DPI = 110
PAGE_IN = (180 / 25.4 * 96 / DPI - 0.1, 225 / 25.4 * 96 / DPI - 0.1)
LEGIBLE_IN = 1.0  # a panel's short side at least this: a person in a photo stays readable
MAX_PANEL_IN = 2.3  # a panel's height at most this (its width: what the page allows)
MAX_PART_COLUMNS = 3
# Fixed parts of the layout, inches: figure margin, part label, gaps, panel title, header
# (suptitle) and footer (colour bar).
_MARGIN, _LABEL, _GAP, _COLUMN_GAP, _ROW_GAP = 0.1, 0.3, 0.12, 0.25, 0.1
_TITLE, _HEAD, _FOOT = 0.34, 0.5, 0.62


@dataclass(frozen=True)
class GalleryLayout:
    """Parts side by side (``columns``, each a highest and a lowest panel) and below each
    other (``rows``), ``parts_per_figure`` per figure; ``panel`` (width, height) in inches,
    the box every thumbnail is fitted into with its aspect ratio kept."""

    columns: int
    rows: int
    parts_per_figure: int
    panel: tuple[float, float]

    def figure_size(self, columns: int, rows: int) -> tuple[float, float]:
        width, height = self.panel
        return (2 * _MARGIN + columns * (_LABEL + 2 * width + _GAP)
                + (columns - 1) * _COLUMN_GAP,
                _HEAD + rows * (_TITLE + height + _ROW_GAP) + _FOOT)


def _fit(per_figure: int, box: tuple[int, int]) -> GalleryLayout:
    """The layout of ``per_figure`` parts with the largest panels that fit PAGE_IN."""
    unit = (box[1] / box[0], 1.0)  # panel (w, h) per inch of its height
    best = None
    for columns in range(1, min(MAX_PART_COLUMNS, per_figure) + 1):
        rows = -(-per_figure // columns)
        room_w = ((PAGE_IN[0] - 2 * _MARGIN - (columns - 1) * _COLUMN_GAP) / columns
                  - _LABEL - _GAP) / 2
        room_h = (PAGE_IN[1] - _HEAD - _FOOT) / rows - _TITLE - _ROW_GAP
        height = max(0.2, min(MAX_PANEL_IN, room_w / unit[0], room_h))
        layout = GalleryLayout(columns, rows, per_figure, (height * unit[0], height))
        if best is None or min(layout.panel) > min(best.panel) + 1e-9:
            best = layout
    return best


def gallery_layout(n_parts: int, box: tuple[int, int], max_figures: int | None = None
                   ) -> GalleryLayout:
    """The fewest figures (at most ``max_figures``) whose panels are legible (short side >=
    LEGIBLE_IN, or as large as a figure of one part allows) when each figure fits PAGE_IN.
    ``box`` (h, w) in thumbnail pixels: the largest thumbnail height and width, so a panel
    has the thumbnails' own aspect ratio."""
    n_parts = max(1, n_parts)
    target = min(LEGIBLE_IN, min(_fit(1, box).panel)) - 1e-9
    for figures in range(1, min(max_figures or n_parts, n_parts) + 1):
        layout = _fit(-(-n_parts // figures), box)
        if min(layout.panel) >= target:
            break
    return layout


def _thumb_box(entries: Sequence[GalleryEntry]) -> tuple[int, int]:
    return (max((e.image.shape[0] for e in entries), default=1),
            max((e.image.shape[1] for e in entries), default=1))


def _gallery_parts(entries: Sequence[GalleryEntry], part_names: Sequence[str],
                   max_parts: int) -> tuple[list[str], list[str]]:
    """(parts shown, in dataset order; parts left out by ``max_parts``)."""
    present = {e.part for e in entries}
    parts = [p for p in part_names if p in present]
    parts += sorted(present - set(parts))
    return parts[:max_parts], parts[max_parts:]


def _render(by_key: dict, parts: Sequence[str], layout: GalleryLayout, title: str) -> plt.Figure:
    """One figure of ``parts`` (row by row, ``layout.columns`` parts per row), axes placed
    in inches so every panel gets exactly ``layout.panel``."""
    columns = max(1, min(layout.columns, len(parts)))
    rows = max(1, -(-len(parts) // columns))
    fig_w, fig_h = layout.figure_size(columns, rows)
    fig = plt.figure(figsize=(fig_w, fig_h))
    width, height = layout.panel

    def axes(left: float, top: float, w: float, h: float) -> plt.Axes:
        return fig.add_axes((left / fig_w, 1 - (top + h) / fig_h, w / fig_w, h / fig_h))

    heat = None
    chars = int((width + _GAP) / 0.055)  # a 7 pt character is about 0.055 in wide
    for i, part in enumerate(parts):
        row, column = divmod(i, columns)
        left = _MARGIN + column * (_LABEL + 2 * width + _GAP + _COLUMN_GAP) + _LABEL
        top = _HEAD + row * (_TITLE + height + _ROW_GAP) + _TITLE
        for c, rank in enumerate(RANKS):
            ax = axes(left + c * (width + _GAP), top, width, height)
            heat = _draw_example(ax, by_key[part, rank], chars)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(_short(part, int(height / 0.07)), fontsize=9, fontweight="bold")
    if not parts:
        fig.text(0.05, 0.5, "No examples: no part was present in a scored image.",
                 ha="left", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig_h, va="top")
    if heat is not None:
        bar_w = min(fig_w - 2 * _MARGIN, 3.5)
        bar = fig.colorbar(heat, cax=axes((fig_w - bar_w) / 2, fig_h - _FOOT + 0.12, bar_w,
                                          0.12), orientation="horizontal")
        bar.set_ticks([0, 1], labels=["no heat", "peak heat"], fontsize=7)
        bar.set_label("heatmap; white outline = the part", fontsize=7)
    return fig


def gallery_figures(entries: Sequence[GalleryEntry], model: str, method: str,
                    part_names: Sequence[str], max_parts: int = 12,
                    max_figures: int | None = None) -> list[Figure]:
    """Highest- and lowest-PH example of each part for model x method, split into as few
    figures as keep every panel legible on a PDF page (``gallery_layout``).

    Each panel: the thumbnail at its own aspect ratio, the heatmap in cividis (alpha 0.55)
    and the part's outline. At most ``max_parts`` parts; the alt texts name the images, the
    last one the parts left out. PNGs are quantised to 256 colours.
    """
    mine = [e for e in entries if e.model == model and e.method == method]
    shown, hidden = _gallery_parts(mine, part_names, max_parts)
    by_key = {(e.part, e.rank): e for e in mine}
    layout = gallery_layout(len(shown), _thumb_box(mine), max_figures)
    chunks = [shown[i:i + layout.parts_per_figure]
              for i in range(0, len(shown), layout.parts_per_figure)] or [[]]
    title = f"{pair_label(model, method)}: does the heat sit on the part\nin its best and " \
            "worst examples?"
    figures = []
    for i, parts in enumerate(chunks):
        last = i == len(chunks) - 1
        page_title = title + (" (continued)" if i else "")
        caption = ("For each part, the image whose heatmap has the highest PH on the part "
                   "(left) and the lowest (right), among the images where the part is present. "
                   "Heatmaps are normalised to their own peak; the white outline marks the "
                   "part.")
        if hidden and last:
            caption += f" Parts not shown (gallery capped): {', '.join(hidden)}."
        fig = _render(by_key, parts, layout, page_title)
        figures.append(Figure(f"gallery-{model}-{method}" + (f"-{i + 1}" if i else ""),
                              page_title.replace("\n", " "), caption,
                              gallery_alt(mine, model, method, parts, hidden if last else ()),
                              _png_data_uri(fig, dpi=DPI, colours=256)))
    return figures


def gallery_figure(entries: Sequence[GalleryEntry], model: str, method: str,
                   part_names: Sequence[str], max_parts: int = 12) -> Figure:
    """``gallery_figures`` in one figure: every shown part, panels as large as one PDF page
    allows (below LEGIBLE_IN only when many parts share the page)."""
    return gallery_figures(entries, model, method, part_names, max_parts, max_figures=1)[0]

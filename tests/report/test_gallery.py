"""Example gallery: streaming selection of the highest- and lowest-PH sample per part, its
.npz round trip, and the gallery figure."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reportgen.data.sample import Sample
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.report.gallery import gallery_figure
from reportgen.scoring import score_batch
from reportgen.scoring.gallery import (
    GalleryCollector,
    GalleryEntry,
    load_gallery,
    thumbnail_size,
)

PARTS = ["head", "tail"]
CLASSES = ["cat", "fish"]
H, W = 32, 64  # thumb_size 8 (the short side) scales by exactly 1/4: masks map onto whole
# thumbnail cells
HEAD = (slice(8, 16), slice(8, 24))
TAIL = (slice(16, 28), slice(36, 60))
# Heat on the tail relative to the head: more tail heat -> lower head PH, higher tail PH.
TAIL_HEAT = {"img0": 0.5, "img1": 0.1, "img2": 0.9, "img3": 0.3, "img4": 0.7, "img5": 0.2}
NO_TAIL = "img5"  # its tail is absent, so it never competes for the tail


def _sample(image_id: str, with_tail: bool = True, class_index: int = 0) -> Sample:
    labels = np.zeros((H, W), np.uint8)
    labels[HEAD] = 1
    if with_tail:
        labels[TAIL] = 2
    image = np.zeros((H, W, 3), np.uint8)
    image[..., 0] = 40 * list(TAIL_HEAT).index(image_id) if image_id in TAIL_HEAT else 255
    image[..., 1] = np.arange(W, dtype=np.uint8)[None, :] * 4
    return Sample(image_id, image, labels, tuple(PARTS), class_index, CLASSES[class_index])


def _heatmap(sample: Sample, tail_heat: float) -> np.ndarray:
    heat = (sample.labels == 1).astype(np.float32)
    heat[sample.labels == 2] = tail_heat
    return heat


def _world() -> tuple[list[Sample], np.ndarray]:
    samples = [_sample(i, with_tail=i != NO_TAIL, class_index=k % 2)
               for k, i in enumerate(TAIL_HEAT)]
    heat = np.stack([_heatmap(s, TAIL_HEAT[s.image_id]) for s in samples])
    return samples, heat


def _batch(heat: np.ndarray) -> HeatmapBatch:
    n = len(heat)
    return HeatmapBatch(heat, np.zeros(n, np.int64), np.ones(n, np.float32),
                        np.zeros(n, np.int64))


def _collect(collector: GalleryCollector, samples, heat, model="partnet", method="gradcam",
             batch_size: int | None = None) -> GalleryCollector:
    step = batch_size or len(samples)
    for start in range(0, len(samples), step):
        part = samples[start:start + step]
        batch = _batch(heat[start:start + step])
        collector.update(model, method, part, score_batch(part, batch, model, method, CLASSES))
    return collector


def _picks(entries: list[GalleryEntry]) -> dict[tuple[str, str], str]:
    return {(e.part, e.rank): e.image_id for e in entries}


def _assert_same_entries(a: list[GalleryEntry], b: list[GalleryEntry]) -> None:
    assert [e.meta() for e in a] == [e.meta() for e in b]
    for x, y in zip(a, b, strict=True):
        for name in ("image", "heatmap", "mask"):
            got, want = getattr(x, name), getattr(y, name)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def _png(uri: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    data = base64.b64decode(uri[len(prefix):], validate=True)
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    return data


# ---------------------------------------------------------------- selection


def test_collector_keeps_the_highest_and_lowest_ph_sample_of_each_part():
    samples, heat = _world()
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    assert _picks(entries) == {
        ("head", "highest"): "img5",  # all its heat is on the head: PH 1
        ("head", "lowest"): "img2",   # most heat spilled onto the tail
        ("tail", "highest"): "img2",
        ("tail", "lowest"): "img1",   # img5 has less tail heat but no tail
    }
    head_best = entries[0]
    assert (head_best.part, head_best.rank, head_best.ph) == ("head", "highest", 1.0)
    assert [(e.part, e.rank) for e in entries] == [
        ("head", "highest"), ("head", "lowest"), ("tail", "highest"), ("tail", "lowest")]


def test_selection_does_not_depend_on_batching_or_batch_order():
    samples, heat = _world()
    whole = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    for batch_size in (1, 2, 4):
        split = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat,
                         batch_size=batch_size).entries()
        _assert_same_entries(split, whole)
    reverse = _collect(GalleryCollector(PARTS, thumb_size=8), samples[::-1], heat[::-1],
                       batch_size=2).entries()
    _assert_same_entries(reverse, whole)


def test_ties_go_to_the_smaller_image_id_in_any_batch_order():
    twins = [_sample("b"), _sample("a"), _sample("c")]
    heat = np.stack([_heatmap(s, 0.5) for s in twins])
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        collector = GalleryCollector(PARTS, thumb_size=8)
        for i in order:
            _collect(collector, [twins[i]], heat[[i]])
        assert set(_picks(collector.entries()).values()) == {"a"}


def test_entry_holds_a_thumbnail_the_normalised_heatmap_and_the_part_mask():
    samples, heat = _world()
    heat = heat * 7.0 - 0.5  # any range: the entry is clipped at 0 and divided by its peak
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    tail_best = next(e for e in entries if (e.part, e.rank) == ("tail", "highest"))
    assert (tail_best.image_id, tail_best.class_name) == ("img2", "cat")
    assert tail_best.image.shape == (8, 16, 3) and tail_best.image.dtype == np.uint8
    assert tail_best.heatmap.shape == (8, 16) and tail_best.heatmap.dtype == np.float16
    assert tail_best.mask.shape == (8, 16) and tail_best.mask.dtype == np.bool_
    expected_mask = np.zeros((8, 16), bool)
    expected_mask[4:7, 9:15] = True  # TAIL / 4
    np.testing.assert_array_equal(tail_best.mask, expected_mask)
    assert float(tail_best.heatmap.max()) == 1.0 and float(tail_best.heatmap.min()) == 0.0
    assert float(tail_best.heatmap[2:4, 2:6].mean()) == pytest.approx(1.0, abs=0.01)  # head
    assert float(tail_best.heatmap[5, 10:14].mean()) == pytest.approx(
        (0.9 * 7 - 0.5) / 6.5, abs=0.01)  # tail, relative to the head's peak
    np.testing.assert_array_equal(tail_best.image[..., 0], 80)  # img2's colour


def test_thumbnails_cap_the_short_side_keep_the_aspect_ratio_and_never_upscale():
    assert thumbnail_size((32, 64), 8) == (8, 16)
    assert thumbnail_size((850, 550), 128) == (198, 128)  # a tall photo stays 128 wide
    assert thumbnail_size((550, 850), 128) == (128, 198)
    assert thumbnail_size((20, 30), 128) == (20, 30)
    assert thumbnail_size((100, 1000), 16) == (3, 32)  # the long side stops at 2 x 16
    assert thumbnail_size((1, 1000), 16) == (1, 32)


def test_a_tiny_part_keeps_at_least_one_thumbnail_pixel():
    labels = np.zeros((H, W), np.uint8)
    labels[HEAD] = 1
    labels[20, 40] = 2  # a one-pixel tail: covers 1/16 of a thumbnail cell
    sample = Sample("dot", np.zeros((H, W, 3), np.uint8), labels, tuple(PARTS), 0, "cat")
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), [sample],
                       _heatmap(sample, 0.5)[None]).entries()
    tail = next(e for e in entries if e.part == "tail")
    assert np.argwhere(tail.mask).tolist() == [[5, 10]]


def test_overlapping_part_masks_are_selected_and_stored_per_part():
    head = np.zeros((H, W), bool)
    head[HEAD] = True
    eye = np.zeros((H, W), bool)
    eye[8:12, 8:12] = True  # inside the head
    samples, heats = [], []
    for k, eye_heat in enumerate((0.2, 1.0)):
        samples.append(Sample(f"m{k}", np.zeros((H, W, 3), np.uint8), None, ("head", "eye"),
                              0, "cat", part_masks=np.stack([head, eye])))
        heats.append(np.where(eye, eye_heat, np.where(head, 0.2, 0.0)).astype(np.float32))
    entries = _collect(GalleryCollector(["head", "eye"], thumb_size=8), samples,
                       np.stack(heats)).entries()
    assert _picks(entries)["eye", "highest"] == "m1"
    assert _picks(entries)["eye", "lowest"] == "m0"
    eye_entry = next(e for e in entries if e.part == "eye")
    assert eye_entry.mask.sum() == 1 and eye_entry.mask[2, 2]


def test_memory_is_bounded_by_models_methods_parts_and_ranks():
    samples, heat = _world()
    collector = GalleryCollector(PARTS, thumb_size=8)
    for _ in range(5):
        _collect(collector, samples, heat, batch_size=2)
        _collect(collector, samples, heat, method="gradcam++", batch_size=3)
    assert len(collector.entries()) == 1 * 2 * len(PARTS) * 2


def test_baselines_and_other_models_can_be_left_out():
    samples, heat = _world()
    only = _collect(GalleryCollector(PARTS, include_models={"partnet"},
                                     include_baselines=False), samples, heat, model="other")
    assert only.entries() == []
    no_baselines = _collect(GalleryCollector(PARTS, include_baselines=False), samples, heat,
                            model="baseline", method="random")
    assert no_baselines.entries() == []
    everyone = _collect(GalleryCollector(PARTS), samples, heat, model="baseline",
                        method="random")
    assert {e.model for e in everyone.entries()} == {"baseline"}


def test_rows_of_other_models_metrics_and_the_background_are_ignored():
    samples, heat = _world()
    batch = _batch(heat)
    scored = score_batch(samples, batch, "partnet", "gradcam", CLASSES)
    noise = scored.table.assign(model="other", value=1.0 - scored.table["value"])
    collector = GalleryCollector(PARTS, thumb_size=8)
    collector.update("partnet", "gradcam", samples, scored, pd.concat([noise, scored.table]))
    assert {e.part for e in collector.entries()} == set(PARTS)
    assert _picks(collector.entries())["head", "highest"] == "img5"


def test_empty_batches_and_tables_add_nothing():
    samples, heat = _world()
    collector = GalleryCollector(PARTS)
    scored = score_batch(samples, _batch(heat), "partnet", "gradcam", CLASSES)
    collector.update("partnet", "gradcam", samples, scored, scored.table.iloc[:0])
    collector.update("partnet", "gradcam", [], scored, scored.table.iloc[:0])
    assert collector.entries() == []


def test_a_table_row_without_its_sample_is_an_error():
    samples, heat = _world()
    scored = score_batch(samples, _batch(heat), "partnet", "gradcam", CLASSES)
    with pytest.raises(ValueError, match="not among the samples"):
        GalleryCollector(PARTS).update("partnet", "gradcam", samples[:1], scored)


# ---------------------------------------------------------------- save / load


def test_save_and_load_round_trip_without_model_or_dataset(tmp_path):
    samples, heat = _world()
    collector = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat)
    path = collector.save(tmp_path / "gallery.npz")
    assert path == tmp_path / "gallery.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery.npz"]  # no temp file left
    _assert_same_entries(load_gallery(path), collector.entries())


def test_saving_the_same_gallery_twice_gives_the_same_bytes(tmp_path):
    samples, heat = _world()
    collector = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat)
    a = collector.save(tmp_path / "a.npz").read_bytes()
    b = collector.save(tmp_path / "b.npz").read_bytes()
    assert a == b


def test_an_empty_gallery_round_trips(tmp_path):
    path = GalleryCollector(PARTS).save(tmp_path / "gallery.npz")
    assert load_gallery(path) == []


def test_loading_an_npz_that_is_not_a_gallery_fails(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.array('{"format": "something else"}'))
    with pytest.raises(ValueError, match="not a reportgen gallery"):
        load_gallery(path)


# ---------------------------------------------------------------- figure


def test_gallery_figure_is_a_png_with_one_row_per_part_and_words_for_alt():
    samples, heat = _world()
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    fig = gallery_figure(entries, "partnet", "gradcam", PARTS)
    data = _png(fig.data_uri)
    with Image.open(io.BytesIO(data)) as img:
        assert img.width > 250 and img.height > 300
    assert fig.id == "gallery-partnet-gradcam"
    assert "partnet · gradcam" in fig.title and "partnet · gradcam" in fig.alt
    assert "head: highest img5 (fish), lowest img2 (cat)." in fig.alt
    assert "tail: highest img2 (cat), lowest img1 (fish)." in fig.alt
    assert "Parts not shown" not in fig.alt


def test_gallery_figure_prints_no_per_image_ph_value():
    samples, heat = _world()
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    fig = gallery_figure(entries, "partnet", "gradcam", PARTS)
    for e in entries:
        assert f"{e.ph:.2f}" not in fig.alt + fig.caption + fig.title


def test_gallery_figure_is_deterministic():
    samples, heat = _world()
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    assert gallery_figure(entries, "partnet", "gradcam", PARTS) == \
        gallery_figure(entries, "partnet", "gradcam", PARTS)


def test_gallery_figure_caps_the_parts_and_names_those_left_out():
    samples, heat = _world()
    entries = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    fig = gallery_figure(entries, "partnet", "gradcam", PARTS, max_parts=1)
    assert "head: highest" in fig.alt and "tail: highest" not in fig.alt
    assert "Parts not shown: tail." in fig.alt and "tail" in fig.caption


def test_gallery_figure_shows_only_its_model_and_method():
    samples, heat = _world()
    collector = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat)
    _collect(collector, samples[:2], heat[:2], model="baseline", method="random")
    fig = gallery_figure(collector.entries(), "baseline", "random", PARTS)
    assert "baseline · random" in fig.alt
    assert "head: highest img1 (fish), lowest img0 (cat)." in fig.alt
    assert "img2" not in fig.alt


def test_gallery_figure_without_entries_is_a_valid_png_that_says_so():
    fig = gallery_figure([], "partnet", "gradcam", PARTS)
    _png(fig.data_uri)
    assert "no example" in fig.alt


def test_gallery_of_four_parts_from_real_photos_stays_under_250_kb(real_data):
    from reportgen.data.spec import load_dataset

    grouping = {"hair": ["hair"], "skin": ["skin"],
                "upper": ["blouse", "shirt", "t-shirt", "top", "coat", "jacket", "sweater"],
                "lower": ["jeans", "pants", "skirt", "shorts", "leggings"]}
    dataset = load_dataset({"format": "mat_labelmap", "root": real_data / "ccp",
                            "class_name": "person", "grouping": grouping,
                            "unmapped_labels": "background"}, limit=8)
    samples = [s for s in dataset if isinstance(s, Sample)]
    parts = list(dataset.part_names)
    yy, xx = np.mgrid[0:14, 0:14] / 13.0
    heat = np.stack([np.exp(-((yy - 0.1 * k) ** 2 + (xx - 0.5) ** 2) / 0.05)
                     for k in range(len(samples))]).astype(np.float32)
    batch = _batch(heat)
    scored = score_batch(samples, batch, "net", "gradcam", ["person"])
    collector = GalleryCollector(parts)
    collector.update("net", "gradcam", samples, scored)
    assert {e.part for e in collector.entries()} == set(parts) and len(parts) == 4
    assert {min(e.image.shape[:2]) for e in collector.entries()} == {128}
    data = _png(gallery_figure(collector.entries(), "net", "gradcam", parts).data_uri)
    assert 20_000 < len(data) < 250_000


# ---------------------------------------------------------------- tall and wide images

TALL = (850, 550)  # (H, W) of the held-out clothing photos
PANEL_GREEN = (0, 255, 0)


def _tall_samples(n_parts: int, count: int = 1) -> tuple[list[Sample], np.ndarray]:
    """Green ``TALL`` photos with ``n_parts`` horizontal bands as parts; heat on the first."""
    parts = tuple(f"part{chr(97 + k)}" for k in range(n_parts))
    labels = np.zeros(TALL, np.uint8)
    bands = np.linspace(100, 750, n_parts + 1).astype(int)
    for k in range(n_parts):
        labels[bands[k]:bands[k + 1], 150:400] = k + 1
    image = np.zeros((*TALL, 3), np.uint8)
    image[...] = PANEL_GREEN
    samples = [Sample(f"tall{i}", image, labels, parts, 0, "cat") for i in range(count)]
    heat = np.stack([(labels == 1 + i % n_parts).astype(np.float32) for i in range(count)])
    return samples, heat


def _panels(png: bytes, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(height, width) in pixels of each region of ``colour`` (+-12 per channel) in the PNG:
    a panel whose photo is plain ``colour`` under zero heat."""
    from scipy import ndimage

    with Image.open(io.BytesIO(png)) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.int16)
    match = (np.abs(pixels - np.array(colour)) <= 12).all(axis=2)
    regions, _ = ndimage.label(match)
    boxes = ndimage.find_objects(regions)
    sizes = [(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes]
    return sorted((s for s in sizes if s[0] * s[1] > 400), reverse=True)


def _under_zero_heat(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """``colour`` as a panel shows it: under the heat colour map's zero at alpha 0.55."""
    import matplotlib

    from reportgen.report.gallery import HEATMAP_CMAP

    zero = np.array(matplotlib.colormaps[HEATMAP_CMAP](0.0)[:3]) * 255
    return tuple(int(v) for v in np.rint(0.55 * zero + 0.45 * np.array(colour)))


def test_a_tall_photo_keeps_its_aspect_ratio_and_gets_a_legible_panel(tmp_path):
    from reportgen.report.gallery import DPI

    samples, heat = _tall_samples(1)
    entries = _collect(GalleryCollector(["parta"]), samples, heat).entries()
    assert len(entries) == 2  # the one photo is both the highest and the lowest
    h, w = entries[0].image.shape[:2]
    assert (h, w) == (198, 128)
    assert abs((h / w) / (TALL[0] / TALL[1]) - 1) < 0.01
    assert entries[0].mask.shape == entries[0].heatmap.shape == (h, w)
    png = _png(gallery_figure(entries, "partnet", "gradcam", ["parta"]).data_uri)
    (tmp_path / "tall.png").write_bytes(png)
    panels = _panels(png, _under_zero_heat(PANEL_GREEN))
    assert len(panels) == 2, panels
    for ph, pw in panels:
        # Legible: at least 1.5 x 1 inch at the figure's 110 dpi (the old layout: 1.29 in
        # wide, 0.3 x that in the PDF); the photo's shape within 3 % (frame pixels).
        assert ph >= 1.5 * DPI and pw >= 1.0 * DPI, panels
        assert abs((ph / pw) / (TALL[0] / TALL[1]) - 1) < 0.03, panels
    with Image.open(io.BytesIO(png)) as img:
        # It fits the PDF's figure box (180 x 225 mm at 96 px/in), so the PDF keeps its size.
        assert img.width / 96 <= 180 / 25.4 and img.height / 96 <= 225 / 25.4, img.size


def test_many_tall_parts_split_into_figures_that_each_fit_a_pdf_page_with_legible_panels():
    from reportgen.report.gallery import LEGIBLE_IN, gallery_figures, gallery_layout

    samples, heat = _tall_samples(10, count=2)
    parts = list(samples[0].part_names)
    entries = _collect(GalleryCollector(parts), samples, heat).entries()
    layout = gallery_layout(10, (198, 128))
    assert min(layout.panel) >= LEGIBLE_IN and layout.columns >= 2
    figures = gallery_figures(entries, "partnet", "gradcam", parts, max_parts=9)
    assert len(figures) == -(-9 // layout.parts_per_figure) >= 2
    assert len({f.id for f in figures}) == len(figures)
    for f in figures:
        with Image.open(io.BytesIO(_png(f.data_uri))) as img:
            assert img.width / 96 <= 180 / 25.4 and img.height / 96 <= 225 / 25.4, img.size
    alt = " ".join(f.alt for f in figures)
    assert all(f"{p}: highest" in alt for p in parts[:9])
    assert "Parts not shown: partj." in figures[-1].alt and "partj" in figures[-1].caption
    assert "Parts not shown" not in figures[0].alt
    # All parts in one figure: smaller panels, still within the page.
    one = gallery_figure(entries, "partnet", "gradcam", parts)
    assert "partj: highest" in one.alt


def test_gallery_layout_sizes_panels_from_the_thumbnails_aspect_ratio():
    from reportgen.report.gallery import LEGIBLE_IN, MAX_PANEL_IN, gallery_layout

    for box in ((198, 128), (96, 96), (128, 256), (85, 256)):
        layout = gallery_layout(4, box)
        width, height = layout.panel
        assert height / width == pytest.approx(box[0] / box[1])
        assert height <= MAX_PANEL_IN + 1e-9
        fig_w, fig_h = layout.figure_size(layout.columns, layout.rows)
        assert fig_w <= 6.2 and fig_h <= 7.8
    assert gallery_layout(4, (96, 96)).columns == 2  # square parts side by side, one figure
    assert gallery_layout(4, (96, 96)).parts_per_figure == 4
    assert min(gallery_layout(4, (128, 256)).panel) >= LEGIBLE_IN  # 2:1 wide photos too


def test_merging_each_batchs_selection_gives_the_one_collectors_selection():
    samples, heat = _world()
    whole = _collect(GalleryCollector(PARTS, thumb_size=8), samples, heat).entries()
    merged = GalleryCollector(PARTS, thumb_size=8)
    for start in range(0, len(samples), 2):  # as the ray engine's workers, one batch each
        merged.merge(_collect(GalleryCollector(PARTS, thumb_size=8), samples[start:start + 2],
                              heat[start:start + 2]).entries())
    _assert_same_entries(merged.entries(), whole)

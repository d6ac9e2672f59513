"""A synthetic "part world": animals made of four named parts on textured backgrounds.

Every image has a pixel-exact label map (0 background, 1 head, 2 body, 3 tail, 4 legs). The
classes differ in the shapes of their parts, not in colour (colours are drawn from one palette
for every class), so a model must look at the object, unless it finds a shortcut: the
background *cue* (diagonal stripes) can be made to co-occur with one class.

Everything is seeded: ``render_sample(seed, split, index, ...)`` always returns the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("bird", "fish", "turtle", "beetle")
PARTS = ("head", "body", "tail", "legs")
HEAD, BODY, TAIL, LEGS = 1, 2, 3, 4
SIZE = 96
SHORTCUT_CLASS = "fish"

# Per class: body radii (x, y), head radius, head lift, tail length and half-width,
# leg count, leg length, leg half-width; all in units of the image side (before scaling).
_SHAPES = {
    "bird":   dict(body=(0.17, 0.11), head=0.075, lift=0.07, tail=(0.14, 0.04), legs=2,
                   leg_len=0.12, leg_w=0.025),
    "fish":   dict(body=(0.20, 0.10), head=0.065, lift=0.0, tail=(0.12, 0.10), legs=2,
                   leg_len=0.06, leg_w=0.03),
    "turtle": dict(body=(0.19, 0.12), head=0.06, lift=0.02, tail=(0.06, 0.04), legs=4,
                   leg_len=0.07, leg_w=0.025),
    "beetle": dict(body=(0.16, 0.13), head=0.065, lift=0.0, tail=(0.05, 0.05), legs=4,
                   leg_len=0.10, leg_w=0.02),
}
# Silhouettes are kept alike in size and thickness (no class is mostly thin legs), so that the
# heat a class "spills" onto the background at CAM resolution is similar across classes.
_PALETTE = np.array([[200, 60, 50], [60, 120, 200], [230, 180, 40], [90, 170, 80],
                     [150, 90, 180], [220, 120, 160], [100, 80, 60], [240, 240, 240]],
                    dtype=np.float32)


@dataclass(frozen=True)
class WorldSample:
    image: np.ndarray   # (SIZE, SIZE, 3) uint8
    labels: np.ndarray  # (SIZE, SIZE) uint8
    class_index: int
    cue: bool


def _smooth_noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    """(SIZE, SIZE) smooth noise in [0, 1]: a random grid upsampled bilinearly."""
    grid = rng.random((cells + 1, cells + 1))
    t = np.linspace(0, cells, SIZE, endpoint=False)
    i = t.astype(int)
    f = t - i
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def _background(rng: np.random.Generator, cue: bool) -> np.ndarray:
    base = rng.uniform(60, 200, size=3).astype(np.float32)
    other = rng.uniform(60, 200, size=3).astype(np.float32)
    mix = _smooth_noise(rng, int(rng.integers(2, 6)))[..., None]
    bg = base * (1 - mix) + other * mix
    bg += rng.normal(0, 8, size=(SIZE, SIZE, 1)).astype(np.float32)
    if cue:
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        period = rng.uniform(7, 10)
        stripes = (np.sin(2 * np.pi * (xx + yy) / period + rng.uniform(0, 6.3)) > 0.3)
        bg = np.where(stripes[..., None], bg * 0.3 + 10, bg)
    return bg


def _ellipse(yy, xx, cy, cx, ry, rx) -> np.ndarray:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _triangle(yy, xx, tip_y, tip_x, base_x, half_w) -> np.ndarray:
    """Isosceles triangle with its tip at (tip_y, tip_x) and its base at column base_x."""
    length = base_x - tip_x
    t = (xx - tip_x) / length
    return (t >= 0) & (t <= 1) & (np.abs(yy - tip_y) <= half_w * t)


def render_sample(seed: int, split: str, index: int, class_index: int, cue: bool
                  ) -> WorldSample:
    """Draw one image of class ``CLASSES[class_index]``, with or without the background cue."""
    rng = np.random.default_rng([seed, sum(map(ord, split)), index])
    shape = _SHAPES[CLASSES[class_index]]
    image = _background(rng, cue)
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)

    s = SIZE * rng.uniform(1.0, 1.4)
    flip = rng.choice([-1.0, 1.0])
    rx, ry = shape["body"][0] * s, shape["body"][1] * s
    cx = rng.uniform(rx + 0.1 * s, SIZE - rx - 0.1 * s)
    cy = rng.uniform(ry + 0.05 * s, SIZE - ry - shape["leg_len"] * s - 2)
    colours = _PALETTE[rng.permutation(len(_PALETTE))[:4]]
    colours = np.clip(colours + rng.normal(0, 12, size=colours.shape), 0, 255)

    masks = {}
    legs = np.zeros_like(labels, dtype=bool)
    n_legs, leg_w, leg_len = shape["legs"], shape["leg_w"] * s, shape["leg_len"] * s
    for k, lx in enumerate(np.linspace(cx - 0.6 * rx, cx + 0.6 * rx, n_legs)):
        top = cy + 0.5 * ry
        slant = 0.0 if CLASSES[class_index] != "beetle" else (k - 1.5) * 0.3
        legs |= (np.abs(xx - lx - slant * (yy - top)) <= leg_w) & (yy >= top) & (
            yy <= top + 0.5 * ry + leg_len)
    masks[LEGS] = legs
    tail_len, tail_w = shape["tail"][0] * s, shape["tail"][1] * s
    back = cx - flip * rx * 0.85
    # A fan that starts inside the body's back and widens away from it.
    masks[TAIL] = _triangle(yy, -flip * (xx - back), cy, 0.0, tail_len, tail_w)
    masks[BODY] = _ellipse(yy, xx, cy, cx, ry, rx)
    hr = shape["head"] * s
    hx = cx + flip * (rx + 0.55 * hr)
    hy = cy - shape["lift"] * s
    masks[HEAD] = _ellipse(yy, xx, hy, hx, hr, hr * (1.25 if CLASSES[class_index] == "fish"
                                                     else 1.0))

    texture = {
        "bird": np.ones_like(xx),
        "fish": 0.8 + 0.2 * (np.sin(xx / 2.0) > 0),
        "turtle": 0.75 + 0.25 * (_smooth_noise(rng, 8) > 0.5),
        "beetle": 0.85 + 0.15 * (np.sin(yy / 1.5) > 0),
    }[CLASSES[class_index]]
    for part_id in (LEGS, TAIL, BODY, HEAD):
        mask = masks[part_id]
        labels[mask] = part_id
        shade = texture[mask, None] if part_id == BODY else 1.0
        image[mask] = colours[part_id - 1] * shade
    image += rng.normal(0, 4, size=image.shape).astype(np.float32)
    return WorldSample(np.clip(image, 0, 255).astype(np.uint8), labels, class_index, cue)


def randomize_background(sample: WorldSample, seed: int, index: int) -> WorldSample:
    """The same object on a fresh random background, with the cue drawn independently (50 %).

    The PQAH-guided augmentation of the demo: the part labels say exactly which pixels are
    background, so the background can be replaced without touching the object.
    """
    rng = np.random.default_rng([seed, 7919, index])
    background = _background(rng, cue=bool(rng.random() < 0.5))
    background += rng.normal(0, 4, size=background.shape).astype(np.float32)
    new = np.clip(background, 0, 255).astype(np.uint8)
    obj = (sample.labels > 0)[..., None]
    return WorldSample(np.where(obj, sample.image, new), sample.labels, sample.class_index,
                       cue=False)


def cue_probability(split: str, class_name: str, shortcut_rate: float = 0.95) -> float:
    """How often an image of ``class_name`` shows the background cue in ``split``.

    ``train``: the shortcut class has it in ``shortcut_rate`` of its images, the others in
    ``1 - shortcut_rate``. ``eval``: independent of the class (0.5). ``flipped``: the
    correlation reversed (the shortcut class never, the others always).
    """
    planted = class_name == SHORTCUT_CLASS
    if split == "train":
        return shortcut_rate if planted else 1 - shortcut_rate
    if split == "flipped":
        return 0.0 if planted else 1.0
    return 0.5


def generate_split(seed: int, split: str, count: int, shortcut_rate: float = 0.95
                   ) -> list[WorldSample]:
    """``count`` samples, classes balanced round-robin, cues drawn per ``cue_probability``."""
    rng = np.random.default_rng([seed, sum(map(ord, split)), 10**6])
    samples = []
    for i in range(count):
        c = i % len(CLASSES)
        cue = bool(rng.random() < cue_probability(split, CLASSES[c], shortcut_rate))
        samples.append(render_sample(seed, split, i, c, cue))
    return samples

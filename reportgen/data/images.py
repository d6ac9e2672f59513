"""Image and label-map decoding shared by every adapter: strict, EXIF-aware, size-limited.

Large files: one with more than ``max_pixels`` pixels is refused from its header alone
(``ImageTooLarge``), never decoded. One with more than ``reduce_above`` pixels is decoded at
1/f of its size, f the smallest power of two that fits (JPEG: in the decoder, draft mode;
other formats: decoded, then box-averaged with ``Image.reduce``). Its annotations are then
sampled onto the same grid by ``DecodedImage.fit``, so image, label map and masks stay pixel
for pixel aligned and scores are those of the annotation sampled at 1/f. Images at or below
``reduce_above`` are decoded exactly as stored (f = 1, nothing resampled).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from reportgen.data.sample import IGNORE_INDEX

EXIF_ORIENTATION = 0x0112
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Files with more pixels (width x height as stored) are refused, never decoded: 150 MP lets
#: real photos through (medium-format cameras reach ~100 MP) and stops decompression bombs
#: (a 3 MB JPEG can declare 14000 x 14000). The default of ``ReadPolicy.max_image_pixels``.
MAX_PIXELS = 150_000_000


class ImageTooLarge(ValueError):
    """A file declares more pixels than allowed; the message gives its size and the limit."""


#: What reading a user's file may raise; adapters turn these into exclusions.
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError)


@contextmanager
def _decoding() -> Iterator[None]:
    """Truncated files raise instead of loading half-grey, and PIL's own size check is off.

    weasyprint sets PIL's process-wide ``LOAD_TRUNCATED_IMAGES = True`` on import; a dataset
    reader must not inherit that. PIL's ``MAX_IMAGE_PIXELS`` check would warn, or raise
    DecompressionBombError (a crash, not an exclusion): every reader here checks its own
    ``max_pixels`` from the header instead.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = False, None
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = previous


def check_pixels(what: str, width: int, height: int, max_pixels: int) -> None:
    """ImageTooLarge when ``width x height`` exceeds ``max_pixels``."""
    if width * height > max_pixels:
        raise ImageTooLarge(f"{what} is {width}x{height} ({width * height / 1e6:.1f} "
                            f"megapixels), above max_image_pixels = {max_pixels:_} "
                            "(raise it to read this file)")


def reduction_factor(height: int, width: int, reduce_above: int | None) -> int:
    """The smallest power of two f with ceil(H/f) * ceil(W/f) <= ``reduce_above`` (1: none)."""
    factor = 1
    while reduce_above is not None and -(-height // factor) * -(-width // factor) > reduce_above:
        factor *= 2
    return factor


@dataclass(frozen=True)
class DecodedImage:
    """An image as decoded: ``pixels`` (h, w, 3) uint8 RGB; ``full_size`` (H, W) of the file
    as displayed (EXIF orientation applied); ``factor`` f, h = ceil(H / f), w = ceil(W / f)."""

    pixels: np.ndarray
    full_size: tuple[int, int]
    factor: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) the decoded pixels must have: ceil(H / f), ceil(W / f)."""
        return -(-self.full_size[0] // self.factor), -(-self.full_size[1] // self.factor)

    def sample_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(h,) rows and (w,) columns of the full-size grid that the decoded pixels stand for:
        the centre pixel of each f x f block (the last, partial block's last pixel at most)."""
        f = self.factor
        return tuple(np.minimum(np.arange(m) * f + f // 2, n - 1)
                     for m, n in zip(self.size, self.full_size, strict=True))

    def fit(self, plane: np.ndarray) -> np.ndarray:
        """An annotation (H, W, ...) at full size on the decoded grid: (h, w, ...), each pixel
        the nearest full-size one (``sample_points``). The array itself when f == 1."""
        if self.factor == 1:
            return plane
        rows, cols = self.sample_points()
        return plane[rows[:, None], cols[None, :]]


def decode_image(path: Path, max_pixels: int = MAX_PIXELS,
                 reduce_above: int | None = None) -> DecodedImage:
    """Read an image as RGB, applying its EXIF orientation (see the module docstring).

    Grey, palette, RGBA (alpha dropped) and CMYK images are converted; 16-bit grey is mapped
    onto 8 bits by rounding value / 257 (brightness kept, no per-image stretch). Raises
    ImageTooLarge above ``max_pixels``; ``reduce_above`` None decodes at full size.
    """
    with _decoding(), Image.open(path) as img:
        width, height = img.size
        check_pixels("the image", width, height, max_pixels)
        factor = reduction_factor(height, width, reduce_above)
        done = _draft(img, factor) if factor > 1 else 1
        stored = img.size
        ImageOps.exif_transpose(img, in_place=True)  # a no-op as stored (no copy)
        if img.size != stored:  # rotated by 90 degrees
            width, height = height, width
        if img.mode.startswith("I"):
            img = Image.fromarray(_to_8_bit(np.asarray(img)))
        if factor > done:
            if img.mode not in ("L", "RGB"):  # converting to the same mode would copy
                img = img.convert("RGB")
            img = img.reduce(factor // done)
        pixels = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    decoded = DecodedImage(pixels, (height, width), factor)
    expected = decoded.size
    if pixels.shape[:2] != expected:  # annotations would not fit: never score such a sample
        raise ValueError(f"decoded at {pixels.shape[1]}x{pixels.shape[0]}, expected "
                         f"{expected[1]}x{expected[0]} (1/{factor} of {width}x{height})")
    return decoded


def _draft(img: Image.Image, factor: int) -> int:
    """Ask a JPEG decoder for 1/``factor`` of the size (it scales by 1/2, 1/4 or 1/8 while
    decoding); returns the scale it took (1 for other formats)."""
    if img.format not in ("JPEG", "MPO"):  # MPO: multi-picture JPEG from cameras
        return 1
    width, height = img.size
    # PIL picks the largest scale <= min(W // w, H // h): floor sizes make that ``factor``
    img.draft(img.mode, (max(1, width // factor), max(1, height // factor)))
    for scale in (8, 4, 2):
        if scale <= factor and img.size == (-(-width // scale), -(-height // scale)):
            return scale
    return 1


def read_rgb(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 RGB at full size (``decode_image`` without reduction)."""
    return decode_image(path, max_pixels).pixels


def _to_8_bit(arr: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit integer) grey -> uint8 as round(value / 257), clipped to 0..255.

    floor((v + 128) / 257) equals round(v / 257) for every integer v (no ties exist), in
    integer arithmetic: 4 bytes per pixel instead of float64's 8.
    """
    clipped = np.clip(arr, 0, 65535).astype(np.uint32)
    return ((clipped + 128) // 257).astype(np.uint8)


def read_label_map(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a single-channel PNG label map as (H, W) uint8; ImageTooLarge above
    ``max_pixels`` (checked from the header)."""
    with _decoding(), Image.open(path) as img:
        check_pixels("the label map", *img.size, max_pixels)
        if img.mode not in ("L", "P", "I", "I;16"):
            raise ValueError(f"label map must be single-channel, got mode {img.mode}")
        arr = _as_array(img)
    if arr.max(initial=0) > IGNORE_INDEX:
        raise ValueError(f"label ids above {IGNORE_INDEX} in label map")
    return arr.astype(np.uint8, copy=False)


def _as_array(img: Image.Image, band_pixels: int = 1 << 22) -> np.ndarray:
    """The pixels of ``img`` in an array of their own, copied over in bands of rows.

    ``np.asarray(img)`` goes through ``Image.tobytes``, which holds the pixels twice more while
    it joins them (432 MB on top of a 144 MB label map of 12000 x 12000), and the array it
    makes keeps the decoded image alive as its base.
    """
    width, height = img.size
    rows = max(1, band_pixels // max(width, 1))
    first = np.asarray(img if rows >= height else img.crop((0, 0, width, rows)))
    out = np.empty((height, *first.shape[1:]), first.dtype)
    out[: first.shape[0]] = first
    for top in range(rows, height, rows):
        out[top: top + rows] = np.asarray(img.crop((0, top, width, min(top + rows, height))))
    return out


def label_counts(labels: np.ndarray, minlength: int = IGNORE_INDEX + 1,
                 chunk: int = 1 << 20) -> np.ndarray:
    """(max(minlength, max id + 1),) int64 pixel count of each id in an integer label map.

    ``np.bincount`` casts its input to int64 (8 bytes a pixel: 1.2 GB for a 12000 x 12000
    map); counting ``chunk`` pixels at a time keeps that cast small.
    """
    flat = labels.reshape(-1)
    counts = np.zeros(minlength, np.int64)
    for start in range(0, flat.size, chunk):
        part = np.bincount(flat[start: start + chunk], minlength=minlength)
        if part.size > counts.size:
            counts = np.concatenate([counts, np.zeros(part.size - counts.size, np.int64)])
        counts[: part.size] += part
    return counts


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag of an image file (1 = as stored; 0 when unreadable)."""
    try:
        with _decoding(), Image.open(path) as img:
            return int(img.getexif().get(EXIF_ORIENTATION, 1))
    except READ_ERRORS:
        return 0


def size_mismatch(what: str, found: tuple[int, ...], size: tuple[int, int],
                  image_path: Path) -> str | None:
    """The exclusion reason when an annotation of (H, W) ``found`` does not fit an image of
    (H, W) ``size`` (as displayed, full size)."""
    height, width = size
    if tuple(found[:2]) == (height, width):
        return None
    reason = f"{what} is {found[1]}x{found[0]} but the image is {width}x{height}"
    orientation = exif_orientation(image_path)
    if orientation > 4 and tuple(found[:2]) == (width, height):
        reason += (f" after applying its EXIF orientation {orientation} (the annotation fits the "
                   "unrotated image)")
    return reason


def describe_error(exc: BaseException) -> str:
    """A one-line, user-facing description of a file read error."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image (corrupt or unknown format)"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ImageTooLarge):
        return text
    return f"unreadable ({text})"


def find_image(folder: Path, stem: str, index: dict[str, list[str]] | None = None
               ) -> tuple[Path | None, str | None]:
    """The image file ``folder/stem.<ext>`` and, when there is none or several, the reason.

    ``index`` (stem -> file names, from ``index_images``) avoids one directory scan per call.
    """
    names = (index if index is not None else index_images(folder)).get(stem, [])
    if not names:
        return None, f"no image {stem}.* ({'/'.join(IMAGE_SUFFIXES)}) in {folder}"
    if len(names) > 1:
        return None, f"several images for id {stem!r} in {folder}: {sorted(names)}"
    return folder / names[0], None


def index_images(folder: Path) -> dict[str, list[str]]:
    """stem -> image file names in ``folder`` (one directory listing, no file opened)."""
    index: dict[str, list[str]] = {}
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            if entry.suffix.lower() in IMAGE_SUFFIXES:
                index.setdefault(entry.stem, []).append(entry.name)
    return index

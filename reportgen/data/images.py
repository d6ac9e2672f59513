"""Image and label-map decoding shared by every adapter: strict, EXIF-aware, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from reportgen.data.sample import IGNORE_INDEX

EXIF_ORIENTATION = 0x0112
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: What reading a user's file may raise; adapters turn these into exclusions.
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError)


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Truncated files raise instead of loading half-grey.

    weasyprint sets PIL's process-wide ``LOAD_TRUNCATED_IMAGES = True`` on import; a dataset
    reader must not inherit that.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, applying its EXIF orientation.

    Grey, palette, RGBA (alpha dropped) and CMYK images are converted; 16-bit grey is mapped
    onto 8 bits by dividing by 257 (brightness kept, no per-image stretch).
    """
    with strict_decoding(), Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode.startswith("I"):
            arr = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8))
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_label_map(path: Path) -> np.ndarray:
    """Read a single-channel PNG label map as (H, W) uint8."""
    with strict_decoding(), Image.open(path) as img:
        if img.mode not in ("L", "P", "I", "I;16"):
            raise ValueError(f"label map must be single-channel, got mode {img.mode}")
        arr = np.asarray(img)
    if arr.max(initial=0) > IGNORE_INDEX:
        raise ValueError(f"label ids above {IGNORE_INDEX} in label map")
    return arr.astype(np.uint8)


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag of an image file (1 = as stored; 0 when unreadable)."""
    try:
        with Image.open(path) as img:
            return int(img.getexif().get(EXIF_ORIENTATION, 1))
    except READ_ERRORS:
        return 0


def size_mismatch(what: str, found: tuple[int, ...], image: np.ndarray,
                  image_path: Path) -> str | None:
    """The exclusion reason when an annotation of (H, W) ``found`` does not fit the image."""
    height, width = image.shape[:2]
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

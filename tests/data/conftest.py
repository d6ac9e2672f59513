"""Dataset fixtures made in code: a corpus of broken files and one builder per format.

Every builder writes the same three samples (``a``, ``b``, ``c``: a 12 x 16 image with a
``head`` and a ``tail`` part) in its format, and knows how to break one sample's files in the
ways users' data break. ``tests/data/test_robustness.py`` runs every break on every format.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest
import scipy.io
from PIL import Image

from reportgen.data.masks import encode_counts, encode_rle

H, W = 12, 16
PARTS = ("head", "tail")
IDS = ("a", "b", "c")
EXIF_ORIENTATION = 0x0112
WNID = "n01440764"


def label_map(h: int = H, w: int = W, shift: int = 0) -> np.ndarray:
    """(h, w) uint8: head (1) top-left block, tail (2) bottom-right block, background 0."""
    labels = np.zeros((h, w), np.uint8)
    labels[1 + shift: h // 2, 1: w // 2] = 1
    labels[h // 2:, w // 2 + shift: w - 1] = 2
    return labels


def rgb(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def struct_array(rows: list[dict]) -> np.ndarray:
    """A MATLAB struct array (1, N) for scipy.io.savemat."""
    arr = np.zeros((1, len(rows)), dtype=[(k, object) for k in rows[0]])
    for i, row in enumerate(rows):
        for key, value in row.items():
            arr[0, i][key] = value
    return arr


class Corpus:
    """Broken and unusual files, made in code."""

    @staticmethod
    def png(array: np.ndarray, **kwargs) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(array, **kwargs).save(buf, format="PNG")
        return buf.getvalue()

    @staticmethod
    def jpeg(array: np.ndarray, orientation: int | None = None) -> bytes:
        buf = io.BytesIO()
        exif = Image.Exif()
        if orientation is not None:
            exif[EXIF_ORIENTATION] = orientation
        Image.fromarray(array).save(buf, format="JPEG", quality=95, subsampling=0, exif=exif)
        return buf.getvalue()

    @staticmethod
    def garbage() -> bytes:
        return b"\x00\x01 this is not an image, a .mat file or anything else " * 40

    @classmethod
    def truncated_png(cls, keep: float = 0.5) -> bytes:
        data = cls.png(rgb(64, 64, seed=3))
        return data[: int(len(data) * keep)]

    @classmethod
    def truncated_jpeg(cls) -> bytes:
        data = cls.jpeg(rgb(64, 64, seed=4))
        return data[: len(data) // 2]

    @classmethod
    def flipped_byte_png(cls) -> bytes:
        data = bytearray(cls.png(rgb(64, 64, seed=5)))
        data[len(data) // 2] ^= 0xFF
        return bytes(data)

    @classmethod
    def gray(cls) -> tuple[bytes, np.ndarray]:
        gray = np.arange(H * W, dtype=np.uint8).reshape(H, W)
        return cls.png(gray, mode="L"), np.repeat(gray[..., None], 3, axis=2)

    @classmethod
    def rgba(cls) -> tuple[bytes, np.ndarray]:
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[...] = (10, 120, 250, 128)
        return cls.png(rgba, mode="RGBA"), rgba[..., :3].copy()

    @classmethod
    def gray16(cls) -> tuple[bytes, np.ndarray]:
        deep = np.full((H, W), 128 * 257, np.uint16)
        deep[:, W // 2:] = 65535
        expected = np.where(deep == 65535, 255, 128).astype(np.uint8)
        return cls.png(deep), np.repeat(expected[..., None], 3, axis=2)

    @classmethod
    def cmyk(cls) -> tuple[bytes, np.ndarray]:
        flat = np.zeros((H, W, 3), np.uint8)
        flat[...] = (200, 40, 90)
        buf = io.BytesIO()
        Image.fromarray(flat).convert("CMYK").save(buf, format="JPEG", quality=100)
        return buf.getvalue(), flat

    @classmethod
    def exif_rotated(cls) -> tuple[bytes, np.ndarray]:
        """A JPEG stored W x H (landscape turned) whose EXIF orientation 6 displays it H x W.

        Returns the bytes and the expected displayed colours: top half red, bottom half blue.
        """
        stored = np.zeros((W, H, 3), np.uint8)   # stored: W rows, H columns
        stored[:, : H // 2] = (255, 0, 0)         # left half of the stored image ...
        stored[:, H // 2:] = (0, 0, 255)
        expected = np.zeros((H, W, 3), np.uint8)  # ... is the top half once rotated 90 cw
        expected[: H // 2] = (255, 0, 0)
        expected[H // 2:] = (0, 0, 255)
        return cls.jpeg(stored, orientation=6), expected

    @classmethod
    def exif_rotated_stored_size(cls) -> bytes:
        """A JPEG stored H x W with orientation 6: displayed W x H, so annotations misfit."""
        return cls.jpeg(rgb(H, W), orientation=6)


@dataclass
class Builder:
    """One format's writer and breaker; ``spec`` opens the written dataset."""

    root: Path
    format: ClassVar[str] = ""

    def write(self) -> dict:
        for i, image_id in enumerate(IDS):
            self.image_path(image_id).parent.mkdir(parents=True, exist_ok=True)
            self.image_path(image_id).write_bytes(Corpus.png(rgb(seed=i)))
        self.write_annotations({i: label_map(shift=k) for k, i in enumerate(IDS)})
        return self.spec()

    # the per-format parts
    def spec(self) -> dict: ...
    def image_path(self, image_id: str) -> Path: ...
    def annotation_path(self, image_id: str) -> Path: ...
    def write_annotations(self, labels: dict[str, np.ndarray]) -> None: ...
    def set_labels(self, image_id: str, labels: np.ndarray) -> None: ...
    def unknown_label(self, image_id: str) -> str:
        """Give ``image_id`` an annotation the format cannot map; returns a word the reason
        contains."""
    def duplicate(self, image_id: str) -> str:
        """Add a second entry with the id of ``image_id``; returns a word of the reason."""

    def break_annotation(self, image_id: str, how: str) -> str:
        """Make ``image_id``'s annotation ``garbage`` or ``truncated``; returns a word of the
        reason (the default: the annotation file's path)."""
        path = self.annotation_path(image_id)
        data = path.read_bytes()
        path.write_bytes(Corpus.garbage() if how == "garbage" else data[: len(data) // 2])
        return str(path)


class FolderBuilder(Builder):
    format = "folder"

    def spec(self) -> dict:
        return {"format": "folder", "root": str(self.root)}

    def image_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{image_id}.png"

    def annotation_path(self, image_id: str) -> Path:
        return self.root / "labels" / f"{image_id}.png"

    def write_annotations(self, labels: dict[str, np.ndarray]) -> None:
        for image_id, lab in labels.items():
            self.set_labels(image_id, lab)
        self._manifest([{"id": i, "image": f"images/{i}.png", "labels": f"labels/{i}.png",
                         "class": "cat"} for i in labels])

    def _manifest(self, samples: list[dict]) -> None:
        (self.root / "dataset.json").write_text(json.dumps(
            {"classes": ["cat", "dog"], "parts": list(PARTS), "samples": samples}))

    def set_labels(self, image_id: str, labels: np.ndarray) -> None:
        self.annotation_path(image_id).parent.mkdir(parents=True, exist_ok=True)
        self.annotation_path(image_id).write_bytes(Corpus.png(labels))

    def unknown_label(self, image_id: str) -> str:
        labels = label_map()
        labels[0, 0] = 7
        self.set_labels(image_id, labels)
        return "[7]"

    def duplicate(self, image_id: str) -> None:
        manifest = json.loads((self.root / "dataset.json").read_text())
        first = next(s for s in manifest["samples"] if s["id"] == image_id)
        self._manifest([*manifest["samples"], first])
        return "duplicate id"


class MatLabelMapBuilder(Builder):
    format = "mat_labelmap"

    def spec(self) -> dict:
        return {"format": "mat_labelmap", "root": str(self.root), "class_name": "person"}

    def image_path(self, image_id: str) -> Path:
        return self.root / "photos" / f"{image_id}.jpg"

    def annotation_path(self, image_id: str) -> Path:
        return self.root / "annotations" / f"{image_id}.mat"

    def write_annotations(self, labels: dict[str, np.ndarray]) -> None:
        names = np.empty((1, 3), dtype=object)
        names[0, :] = ["null", *PARTS]
        scipy.io.savemat(self.root / "label_list.mat", {"label_list": names})
        for image_id, lab in labels.items():
            self.set_labels(image_id, lab)

    def set_labels(self, image_id: str, labels: np.ndarray) -> None:
        self.annotation_path(image_id).parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(self.annotation_path(image_id), {"groundtruth": labels})

    def unknown_label(self, image_id: str) -> str:
        labels = label_map()
        labels[0, 0] = 7
        self.set_labels(image_id, labels)
        return "[7]"

    def duplicate(self, image_id: str) -> None:
        # a second image file with the same id: which photo is meant is ambiguous
        self.image_path(image_id).with_suffix(".png").write_bytes(Corpus.png(rgb()))
        return "several images"


class PartImageNetBuilder(Builder):
    format = "partimagenet"

    def spec(self) -> dict:
        return {"format": "partimagenet", "root": str(self.root),
                "annotations": "annotations.json"}

    def image_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{WNID}_{image_id}.JPEG"

    def annotation_path(self, image_id: str) -> Path:
        return self.root / "annotations.json"

    def write_annotations(self, labels: dict[str, np.ndarray]) -> None:
        self._coco = {"images": [], "annotations": [], "categories": [
            {"id": 10, "name": "Fish Head", "supercategory": "Fish"},
            {"id": 11, "name": "Fish Tail", "supercategory": "Fish"}]}
        for image_id, lab in labels.items():
            self._coco["images"].append({"id": image_id, "file_name": f"{WNID}_{image_id}.JPEG",
                                         "height": lab.shape[0], "width": lab.shape[1]})
            self._annotate(image_id, lab)
        self._save()

    def _annotate(self, image_id: str, labels: np.ndarray) -> None:
        anns = self._coco["annotations"]
        anns[:] = [a for a in anns if a["image_id"] != image_id]
        h, w = labels.shape
        # head as a polygon around its block, tail as compressed RLE, any other id raw RLE
        ys, xs = np.nonzero(labels == 1)
        if ys.size:
            anns.append({"id": len(anns), "image_id": image_id, "category_id": 10,
                         "segmentation": [[float(xs.min()), float(ys.min()),
                                           float(xs.max() + 1), float(ys.min()),
                                           float(xs.max() + 1), float(ys.max() + 1),
                                           float(xs.min()), float(ys.max() + 1)]]})
        if (labels == 2).any():
            anns.append({"id": len(anns), "image_id": image_id, "category_id": 11,
                         "segmentation": {"size": [h, w],
                                          "counts": encode_counts(encode_rle(labels == 2))}})
        for other in np.setdiff1d(np.unique(labels), [0, 1, 2]):
            anns.append({"id": len(anns), "image_id": image_id, "category_id": int(other),
                         "segmentation": {"size": [h, w],
                                          "counts": encode_rle(labels == other)}})

    def _save(self) -> None:
        self.annotation_path("").write_text(json.dumps(self._coco))

    def set_labels(self, image_id: str, labels: np.ndarray) -> None:
        self._annotate(image_id, labels)
        self._save()

    def unknown_label(self, image_id: str) -> str:
        labels = label_map()
        labels[0, 0] = 7
        self.set_labels(image_id, labels)
        return "category_id 7"

    def duplicate(self, image_id: str) -> None:
        first = next(i for i in self._coco["images"] if i["id"] == image_id)
        self._coco["images"].append(dict(first))
        self._save()
        return "duplicate image id"

    def break_annotation(self, image_id: str, how: str) -> str:
        ann = next(a for a in self._coco["annotations"] if a["image_id"] == image_id)
        if how == "garbage":
            ann["segmentation"] = [[1.0, 2.0, 3.0, 4.0]]  # two points: not a polygon
            needle = "polygon"
        else:
            counts = encode_counts(encode_rle(label_map() == 2))
            ann["segmentation"] = {"size": [H, W], "counts": counts[: len(counts) // 2]}
            needle = "RLE"
        self._save()
        return needle


class PascalPartBuilder(Builder):
    format = "pascal_part"

    def spec(self) -> dict:
        return {"format": "pascal_part", "root": str(self.root), "classes": ["dog"],
                "grouping": {"head": ["head"], "tail": ["tail"]}}

    def image_path(self, image_id: str) -> Path:
        return self.root / "JPEGImages" / f"{image_id}.png"

    def annotation_path(self, image_id: str) -> Path:
        return self.root / "Annotations_Part" / f"{image_id}.mat"

    def write_annotations(self, labels: dict[str, np.ndarray]) -> None:
        for image_id, lab in labels.items():
            self.set_labels(image_id, lab)

    def set_labels(self, image_id: str, labels: np.ndarray,
                   names: dict[int, str] | None = None, imname: str | None = None) -> None:
        names = names or {1: "head", 2: "tail"}
        ids = [i for i in np.unique(labels) if i]
        parts = struct_array([{"part_name": names.get(int(i), f"part{i}"),
                               "mask": (labels == i).astype(np.uint8)} for i in ids]) \
            if ids else np.zeros((0, 0))
        obj = struct_array([{"class": "dog", "class_ind": np.array([[12]]),
                             "mask": (labels > 0).astype(np.uint8), "parts": parts}])
        self.annotation_path(image_id).parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(self.annotation_path(image_id),
                         {"anno": {"imname": imname or image_id, "objects": obj}})

    def unknown_label(self, image_id: str) -> str:
        labels = label_map()
        labels[0, 0] = 7
        self.set_labels(image_id, labels, names={1: "head", 2: "tail", 7: "lwing"})
        return "'lwing'"

    def duplicate(self, image_id: str) -> None:
        # another annotation file (sorted after the first) names the same image
        self.set_labels("zz_copy", label_map(), imname=image_id)
        return "duplicate image id"


BUILDERS = (FolderBuilder, MatLabelMapBuilder, PartImageNetBuilder, PascalPartBuilder)


@pytest.fixture(params=BUILDERS, ids=[b.format for b in BUILDERS])
def builder(request, tmp_path) -> Builder:
    """A written three-sample dataset in each format (parametrised over the formats)."""
    b = request.param(tmp_path / request.param.format)
    b.root.mkdir()
    b.write()
    return b


@pytest.fixture()
def corpus() -> type[Corpus]:
    return Corpus


@pytest.fixture()
def make() -> SimpleNamespace:
    """The helpers test modules need (conftest modules cannot be imported by name)."""
    return SimpleNamespace(label_map=label_map, rgb=rgb, struct_array=struct_array, H=H, W=W,
                           png=Corpus.png, jpeg=Corpus.jpeg)

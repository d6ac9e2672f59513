"""score_masks and the localisation metrics on real PASCAL-Part masks (read in place)."""

import numpy as np
import pytest

from reportgen.metrics.localization import score_localization
from reportgen.metrics.pqah import score_masks


@pytest.fixture(scope="module")
def person(real_data):
    """The person of 2008_000008: (parts (K, H, W), names, silhouette (H, W))."""
    scipy_io = pytest.importorskip("scipy.io")
    path = real_data / "pascal_part" / "Annotations_Part" / "2008_000008.mat"
    anno = scipy_io.loadmat(path, squeeze_me=True, struct_as_record=False)["anno"]
    obj = next(o for o in np.atleast_1d(anno.objects) if getattr(o, "class") == "person")
    parts = np.atleast_1d(obj.parts)
    masks = np.stack([p.mask.astype(bool) for p in parts])
    return masks, [p.part_name for p in parts], obj.mask.astype(bool)


def test_real_overlapping_parts_are_scored_independently(person):
    masks, names, silhouette = person
    head = masks[names.index("head")]
    eye = masks[names.index("leye")]
    assert (eye & ~head).sum() == 0 < eye.sum()  # the eye lies inside the head
    background = ~(silhouette | masks.any(axis=0))
    s = score_masks(head[None].astype(np.float32), masks[None], background[None])
    np.testing.assert_allclose(s.ph[0, 1 + names.index("head")], 1.0)
    np.testing.assert_allclose(s.recall[0, 1 + names.index("leye")], 1.0)  # fully covered
    expected = (masks & head).reshape(len(names), -1).sum(axis=1) / head.sum()
    np.testing.assert_allclose(s.precision[0, 1:], expected)
    assert s.precision[0, 0] == 0


def test_real_object_mask_localisation(person):
    masks, names, silhouette = person
    head = masks[names.index("head")]
    s = score_localization(head[None].astype(np.float32), silhouette[None], tolerance=0)
    for name in ("pointing_game", "energy_pointing_game", "relevance_mass"):
        np.testing.assert_allclose(getattr(s, name), [1.0], err_msg=name)
    np.testing.assert_allclose(s.iou, [head.sum() / silhouette.sum()])
    # top K = |O|: the head, then K - |head| of the pixels tied at 0, which lie on O at the
    # rate (|O| - |head|) / (pixels - |head|)
    k, hot, pixels = silhouette.sum(), head.sum(), head.size
    rest = k - hot
    np.testing.assert_allclose(s.relevance_rank, [(hot + rest * rest / (pixels - hot)) / k])

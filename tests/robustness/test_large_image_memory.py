"""A 12000 x 12000 JPEG is decoded at a reduced size inside the decoder: reading it costs tens
of MB, not the 432 MB (x2 with copies) of its full-size pixels. The file is made here, in a
temporary folder, never committed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

SIDE = 12000
READ = """
import resource, sys
from pathlib import Path
from reportgen.data.images import decode_image
from reportgen.data.policy import DEFAULT_REDUCE_ABOVE_PIXELS
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = decode_image(Path(sys.argv[1]), reduce_above=DEFAULT_REDUCE_ABOVE_PIXELS)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(image.factor, *image.pixels.shape, grown // 1024)
"""


def test_reading_a_12000x12000_jpeg_costs_far_less_than_its_full_size(tmp_path):
    path = tmp_path / "huge.jpg"
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        Image.linear_gradient("L").resize((SIDE, SIDE)).save(path, quality=80)
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    out = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True,
                         text=True, check=True, timeout=300)
    factor, height, width, channels, grown_mb = map(int, out.stdout.split())
    assert (factor, height, width, channels) == (8, SIDE // 8, SIDE // 8, 3)
    assert grown_mb < 100, f"peak RSS grew by {grown_mb} MB"

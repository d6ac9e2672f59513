"""Rasterise the first page of a report PDF for the README: readme_picture.py PDF PNG."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main(pdf: str, png: str, dpi: int = 70) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1",
                        "-singlefile", pdf, str(Path(tmp) / "page")], check=True)
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "page.png", png)
    print(f"wrote {png}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

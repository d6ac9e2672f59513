"""Shared fixtures: small datasets and models made in code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from reportgen.models.loading import LoadedModel, ModelSpec, load_model
from reportgen.sample_data.build import write_folder_dataset
from reportgen.sample_data.train import PREPROCESSING
from reportgen.sample_data.world import CLASSES, generate_split

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def world_samples():
    """Eight seeded part-world samples (two per class)."""
    return generate_split(seed=7, split="eval", count=8)


@pytest.fixture()
def folder_dataset(tmp_path, world_samples) -> Path:
    """A valid folder-format dataset of eight images in a temporary folder."""
    root = tmp_path / "world"
    write_folder_dataset(world_samples, root, "s")
    return root


@pytest.fixture(scope="session")
def random_partnet() -> LoadedModel:
    """An untrained PartNet (seeded): real forward and backward passes, no weights file."""
    torch.manual_seed(0)
    spec = ModelSpec("random-partnet", "partnet", len(CLASSES), preprocessing=PREPROCESSING)
    return load_model(spec)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """../shared/data (or $REPORTGEN_REAL_DATA); in CI a missing folder fails."""
    path = Path(os.environ.get("REPORTGEN_REAL_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        if os.environ.get("REPORTGEN_REQUIRE_REAL_DATA"):
            pytest.fail(f"real test data not found at {path}")
        pytest.skip(f"real test data not found at {path}")
    return path


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)

"""Fixtures for the metric tests: run a test on each kernel backend."""

from __future__ import annotations

import pytest

from reportgen.metrics import _kernels


@pytest.fixture(params=["numba", "numpy"])
def kernel_backend(request, monkeypatch) -> str:
    """Run the test with the compiled kernels (skipped without numba) and the numpy fallback."""
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("REPORTGEN_KERNELS", request.param)
    assert _kernels.backend() == request.param
    return request.param

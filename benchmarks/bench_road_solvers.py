"""ROAD's imputation systems under other sparse solvers: is there a 2.5x cheaper solve?

    .venv/bin/python benchmarks/bench_road_solvers.py [--size 224] [--repeats 2]

One smooth random 224 x 224 saliency map; for fractions 0.1 ... 0.9, MoRF and LeRF (ROAD's 18
systems per image), the system of ``reportgen.metrics.imputation`` is solved for 3 right-hand
sides (the channels) by each solver that is installed, one thread each (OMP/OpenBLAS
threads 1), best of ``--repeats``, and checked against ours (max |difference|):

* ``superlu``: ours (SciPy's SuperLU, our nested-dissection order, no re-ordering);
* ``cholmod``: ``sksparse.cholmod`` supernodal Cholesky with our order (``natural``) and with
  CHOLMOD's own ``amd`` and ``metis`` orders (needs scikit-sparse and SuiteSparse: not a
  dependency of reportgen);
* ``cholespy``: its CHOLMOD-based ``CholeskySolverD`` (pip wheel);
* ``pyamg``: smoothed-aggregation AMG as a CG preconditioner, tolerance 1e-10.

Each time includes the factorisation (or set-up) and the solve; the assembly is shared and
not timed. The ratio is superlu's seconds over the solver's (> 1: faster than ours).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.sparse.linalg import splu

from reportgen.metrics.imputation import _neighbour_sums, _system

FRACTIONS = [round(0.1 * k, 1) for k in range(1, 10)]


def systems(size: int):
    """ROAD's 18 (matrix, rhs) pairs of one image: MoRF and LeRF at every fraction."""
    rng = np.random.default_rng(0)
    order = np.argsort(-gaussian_filter(rng.random((size, size)), 20).ravel())
    image = rng.random((3, size, size))
    out = []
    for fraction in FRACTIONS:
        k = int(fraction * size * size)
        for chosen in (order[:k], order[::-1][:k]):
            removed = np.zeros(size * size, bool)
            removed[chosen] = True
            removed = removed.reshape(size, size)
            matrix, unknown = _system(removed)
            kept = np.where(removed, 0.0, image)
            rhs = np.ascontiguousarray(_neighbour_sums(kept).reshape(3, -1)[:, unknown].T)
            out.append((matrix, rhs))
    return out


def superlu(matrix, rhs):
    return splu(matrix, permc_spec="NATURAL", options={"SymmetricMode": True}).solve(rhs)


def solvers() -> dict:
    found = {"superlu": superlu}
    if importlib.util.find_spec("sksparse"):
        from sksparse.cholmod import cholesky
        for order in ("natural", "amd", "metis"):
            found[f"cholmod ({order})"] = (
                lambda m, b, o=order: cholesky(m, ordering_method=o, mode="supernodal")(b))
    if importlib.util.find_spec("cholespy"):
        from cholespy import CholeskySolverD, MatrixType

        def cholespy(matrix, rhs):
            coo = matrix.tocoo()
            solver = CholeskySolverD(matrix.shape[0], coo.row.astype(np.int32),
                                     coo.col.astype(np.int32), coo.data, MatrixType.COO)
            x = np.zeros_like(rhs)
            solver.solve(rhs, x)
            return x
        found["cholespy"] = cholespy
    if importlib.util.find_spec("pyamg"):
        import pyamg

        def amg(matrix, rhs):
            ml = pyamg.smoothed_aggregation_solver(matrix.tocsr(), symmetry="symmetric")
            return np.column_stack([ml.solve(rhs[:, c], tol=1e-10, accel="cg", maxiter=300)
                                    for c in range(rhs.shape[1])])
        found["pyamg (SA-AMG + CG)"] = amg
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    pairs = systems(args.size)
    reference = [superlu(m, b) for m, b in pairs]
    best: dict[str, float] = {}
    error: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, solve in solvers().items():
            start = time.perf_counter()
            answers = [solve(m, b) for m, b in pairs]
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            error[name] = max(float(np.abs(a - r).max())
                              for a, r in zip(answers, reference, strict=True))
    print(json.dumps({
        "systems": len(pairs), "size": args.size, "load_average": os.getloadavg()[0],
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "ratio_vs_superlu": {k: round(best["superlu"] / v, 2) for k, v in best.items()},
        "max_abs_difference": error}, indent=2))


if __name__ == "__main__":
    main()

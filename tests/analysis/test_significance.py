import numpy as np
import pytest
from scipy import stats as sps

from reportgen.analysis.significance import (
    bootstrap_median_ci,
    holm,
    mann_whitney,
    wilcoxon_paired,
)


def test_cliffs_delta_is_one_when_every_a_exceeds_every_b():
    r = mann_whitney(np.array([5.0, 6, 7]), np.array([1.0, 2, 3, 4]))
    assert r.cliffs_delta == 1.0
    assert (r.median_a, r.median_b, r.n_a, r.n_b) == (6.0, 2.5, 3, 4)


def test_cliffs_delta_matches_its_pairwise_definition():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.3, 1, 40), rng.normal(0, 1, 30)
    pairwise = np.sign(a[:, None] - b[None, :]).mean()
    assert mann_whitney(a, b).cliffs_delta == pytest.approx(pairwise)
    assert mann_whitney(a, b).p_value == pytest.approx(
        sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0
    assert holm([0.9, 0.8]).max() <= 1.0


def test_paired_median_difference_and_ci_bracket_a_planted_shift():
    rng = np.random.default_rng(1)
    b = rng.random(60)
    a = b + 0.2 + rng.normal(0, 0.02, 60)
    r = wilcoxon_paired(a, b)
    assert r.p_value < 1e-6
    lo, hi = bootstrap_median_ci(r.differences, np.random.default_rng(0))
    assert lo < r.median_difference < hi
    assert 0.18 < r.median_difference < 0.22
    assert r.n == 60
    assert (lo, hi) == bootstrap_median_ci(r.differences, np.random.default_rng(0))


def test_identical_pairs_give_p_one_not_an_error():
    x = np.arange(12.0)
    r = wilcoxon_paired(x, x)
    assert r.p_value == 1.0 and r.median_difference == 0.0

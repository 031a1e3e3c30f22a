"""β-NMF: monotone cost, non-negativity, agreement with scikit-learn, options and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nmfaudio
from nmfaudio import ParameterError, divergence, kl_divergence, nmf
from nmfaudio.frontend import magnitude, stft
from nmfaudio.nmf import EPSILON, initialize
from nmfaudio.settings import Cost, Fit


def random_spectrogram(n_freq: int, n_frames: int, seed: int, dtype=np.float32) -> np.ndarray:
    """Low-rank-ish non-negative data with exact zeros, like a sparse spectrogram."""
    rng = np.random.default_rng(seed)
    rank = max(1, min(n_freq, n_frames) // 2)
    V = rng.exponential(size=(n_freq, rank)) @ rng.exponential(size=(rank, n_frames))
    V *= rng.random(V.shape) > 0.2
    return V.astype(dtype)


@pytest.fixture(scope="module")
def example_V(tmp_path_factory) -> np.ndarray:
    from conftest import EXAMPLE

    import nmfaudio

    y, _ = nmfaudio.load(EXAMPLE / "mixture.wav")
    return magnitude(stft(y))


def reference_kl(V, W, H) -> float:
    """The divergence written out plainly in float64, as an oracle."""
    V, WH = V.astype(np.float64), W.astype(np.float64) @ H.astype(np.float64)
    pos = V > 0
    log_ratio = np.log(V[pos] / np.maximum(WH[pos], EPSILON))
    return float(np.sum(V[pos] * log_ratio) - V.sum() + WH.sum())


BETAS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]


@settings(max_examples=60, deadline=None)
@given(
    n_freq=st.integers(1, 30),
    n_frames=st.integers(1, 30),
    k_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
    init=st.sampled_from(["random", "nndsvda"]),
    beta=st.sampled_from(BETAS),
    penalty=st.sampled_from([{}, {"sparsity_W": 0.01, "sparsity_H": 0.02},
                             {"l2_W": 0.01, "l2_H": 0.02}, {"sparsity_H": 0.01, "l2_W": 0.01}]),
)  # fmt: skip
def test_cost_never_increases_and_factors_stay_non_negative(
    n_freq, n_frames, k_fraction, seed, dtype, init, beta, penalty
):
    # The multiplicative updates are majorize-minimize steps (Févotte & Idier, 2011) for
    # every β, with L1 and L2 penalties in the denominators: the cost cannot go up.
    V = random_spectrogram(n_freq, n_frames, seed, dtype)
    if beta == 0:
        V += dtype(1e-3)  # Itakura-Saito is a divergence of positive data
    k = 1 + int(k_fraction * (min(n_freq, n_frames) - 1))
    result = nmf(
        V,
        k,
        dtype=dtype,
        cost=Cost(beta=beta, **penalty),
        fit=Fit(n_iter=30, tol=0, init=init, seed=seed),
    )
    assert len(result.losses) == 30
    assert np.all(np.isfinite(result.losses))
    # Exact arithmetic never increases the cost; allow only rounding of the precision used:
    # the cost is a sum of terms as large as V's entries (and their powers), resolved to
    # about eps times their total at best.
    eps = np.finfo(dtype).eps
    V64 = V.astype(np.float64)
    size = V.size + V64.sum() + np.sum(V64**beta)
    slack = 100 * eps * np.abs(result.losses[:-1]) + 10 * eps * size
    assert np.all(np.diff(result.losses) <= slack), result.losses
    assert result.W.min() >= 0 and result.H.min() >= 0
    assert result.W.dtype == dtype and result.H.dtype == dtype


def test_loss_history_matches_divergence_of_returned_factors(example_V):
    result = nmf(example_V, 5, fit=Fit(n_iter=50, tol=0, seed=1))
    assert kl_divergence(example_V, result.W, result.H) == pytest.approx(result.losses[-1], 1e-6)
    assert reference_kl(example_V, result.W, result.H) == pytest.approx(result.losses[-1], 1e-4)


def test_kl_divergence_of_exact_fit_is_zero_and_positive_otherwise():
    rng = np.random.default_rng(0)
    W, H = rng.random((6, 2)), rng.random((2, 9))
    assert kl_divergence(W @ H, W, H) == pytest.approx(0, abs=1e-12)
    assert kl_divergence(W @ H, W, 2 * H) == pytest.approx(reference_kl(W @ H, W, 2 * H))
    assert kl_divergence(W @ H, W, 2 * H) > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0])
@pytest.mark.parametrize(
    ("ours_penalty", "sklearn_penalty"),
    [
        ({}, {}),
        ({"sparsity_H": 1e-3}, {"alpha_W": 0.0, "alpha_H": 1e-3, "l1_ratio": 1.0}),
        ({"l2_H": 1e-3}, {"alpha_W": 0.0, "alpha_H": 1e-3, "l1_ratio": 0.0}),
        ({"sparsity_W": 1e-3, "sparsity_H": 1e-3}, {"alpha_W": 1e-3, "l1_ratio": 1.0}),
    ],
)
def test_agrees_with_scikit_learn_from_the_same_start(
    example_V, dtype, beta, ours_penalty, sklearn_penalty
):
    sklearn_nmf = pytest.importorskip("sklearn.decomposition")
    V = example_V.astype(dtype)[:, :60] + dtype(1e-3)  # positive, for Itakura-Saito
    W0, H0 = initialize(V, 6, fit=Fit(seed=3))
    ours = nmf(
        V,
        6,
        W=W0,
        H=H0,
        dtype=dtype,
        cost=Cost(beta=beta, **ours_penalty),
        fit=Fit(n_iter=200, tol=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns that max_iter was reached
        W_sk, H_sk, n_iter = sklearn_nmf.non_negative_factorization(
            V, W=W0.copy(), H=H0.copy(), n_components=6, init="custom",
            beta_loss=beta, solver="mu", max_iter=200, tol=0, **sklearn_penalty,
        )  # fmt: skip
    assert n_iter == 200
    V64 = V.astype(np.float64)
    ours_divergence = divergence(V64, ours.W.astype(np.float64), ours.H.astype(np.float64), beta)
    theirs = divergence(V64, W_sk.astype(np.float64), H_sk.astype(np.float64), beta)
    assert ours_divergence == pytest.approx(theirs, rel=1e-3)
    if dtype == np.float64:  # same algorithm, same order: the same model up to rounding
        np.testing.assert_allclose(ours.W @ ours.H, W_sk @ H_sk, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("beta", BETAS)
def test_divergence_is_the_formula_and_zero_only_at_an_exact_fit(beta):
    rng = np.random.default_rng(0)
    W, H = rng.random((6, 2)) + 0.1, rng.random((2, 9)) + 0.1
    V = W @ H
    assert divergence(V, W, H, beta) == pytest.approx(0, abs=1e-12)
    x, y = V, W @ (2 * H)
    if beta == 0:
        expected = np.sum(x / y - np.log(x / y) - 1)
    elif beta == 1:
        expected = np.sum(x * np.log(x / y) - x + y)
    else:
        expected = np.sum(x**beta + (beta - 1) * y**beta - beta * x * y ** (beta - 1))
        expected /= beta * (beta - 1)
    assert divergence(V, W, 2 * H, beta) == pytest.approx(expected, rel=1e-9)
    assert divergence(V, W, 2 * H, beta) > 0


def test_divergence_names_and_kl_divergence():
    rng = np.random.default_rng(1)
    V, W, H = rng.random((5, 7)), rng.random((5, 2)), rng.random((2, 7))
    for name, beta in [("IS", 0), ("itakura-saito", 0), ("kl", 1), ("euclidean", 2)]:
        assert divergence(V, W, H, name) == divergence(V, W, H, beta)
    assert kl_divergence(V, W, H) == divergence(V, W, H)
    assert divergence(V, W, H, "euclidean") == pytest.approx(0.5 * np.sum((V - W @ H) ** 2))
    fit = nmf(V, 2, cost=Cost(beta="is"), fit=Fit(n_iter=5))
    assert fit.cost.beta == 0.0 and fit.cost.penalties == {}


@pytest.mark.parametrize("beta", BETAS)
def test_partly_fixed_templates_stay_and_the_cost_descends(beta):
    rng = np.random.default_rng(2)
    V = rng.exponential(size=(40, 4)) @ rng.exponential(size=(4, 80)) + 1e-3
    W0 = rng.random((40, 4))
    keep = np.array([True, False, True, False])
    fit = nmf(
        V, 4, W=W0, fix_W=keep, dtype=np.float64, cost=Cost(beta=beta), fit=Fit(n_iter=40, tol=0)
    )
    np.testing.assert_array_equal(fit.W[:, keep], W0[:, keep])
    assert not np.allclose(fit.W[:, ~keep], W0[:, ~keep])
    assert np.all(np.diff(fit.losses) <= 1e-9 * fit.losses[:-1])
    np.testing.assert_allclose(fit.W[:, ~keep].sum(axis=0), 1)


def test_continuity_makes_activations_smoother_at_a_small_cost_in_fit():
    rng = np.random.default_rng(3)
    W = rng.exponential(size=(60, 3))
    H = np.repeat(rng.exponential(size=(3, 20)), 10, axis=1)  # held notes
    V = W @ H * rng.gamma(4, 1 / 4, size=(60, 200))  # multiplicative noise
    W0, H0 = initialize(V, 3, fit=Fit(seed=0))
    plain = nmf(V, 3, W=W0, H=H0, dtype=np.float64, fit=Fit(n_iter=200, tol=0))
    smooth = nmf(
        V, 3, W=W0, H=H0, dtype=np.float64, cost=Cost(continuity_H=0.1), fit=Fit(n_iter=200, tol=0)
    )

    def roughness(H):
        return np.sum(np.diff(H, axis=1) ** 2, axis=1) / np.sum(H**2, axis=1)

    assert np.all(roughness(smooth.H) < 0.5 * roughness(plain.H))
    assert divergence(V, smooth.W, smooth.H) < 1.05 * divergence(V, plain.W, plain.H)
    assert np.all(np.diff(smooth.losses) <= 0)  # measured so here, though not guaranteed


def test_sparsity_moves_activation_off_where_the_truth_is_silent():
    # Euclidean, templates fixed: L1 on H soft-thresholds. (Under KL with unit-sum fixed
    # templates, L1 on H only scales H down uniformly, a property of KL: not tested here.)
    rng = np.random.default_rng(4)
    H_true = rng.exponential(size=(5, 200)) * (rng.random((5, 200)) < 0.2)
    W = rng.exponential(size=(50, 5))
    W /= np.linalg.norm(W, axis=0)
    V = W @ H_true + 0.05 * rng.random((50, 200))
    silent = H_true == 0
    plain = nmf(V, 5, W=W, fix_W=True, cost=Cost(beta=2), fit=Fit(n_iter=300, tol=0))
    sparse = nmf(
        V, 5, W=W, fix_W=True, cost=Cost(beta=2, sparsity_H=1e-3), fit=Fit(n_iter=300, tol=0)
    )

    def stray(H):
        return H[silent].sum() / H.sum()

    assert stray(sparse.H) < 0.75 * stray(plain.H)
    assert np.mean(sparse.H[silent] < 1e-3) > 3 * np.mean(plain.H[silent] < 1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"V": -np.ones((3, 3)), "n_components": 1}, "non-negative"),
        ({"V": np.full((3, 3), np.nan), "n_components": 1}, "NaN"),
        ({"V": np.ones(5), "n_components": 1}, "2-D"),
        ({"V": np.ones((0, 4)), "n_components": 1}, "empty"),
        ({"V": np.ones((3, 3)), "n_components": 0}, "n_components must be a positive integer"),
        ({"V": np.ones((3, 3)), "n_components": 2.5}, "got 2.5"),
        ({"V": np.ones((3, 5)), "n_components": 4}, "larger than the spectrogram allows"),
        ({"V": np.ones((3, 3)), "n_components": 1, "fix_W": True}, "needs the templates"),
        ({"V": np.ones((3, 3)), "n_components": 1, "W": np.ones((3, 2))}, "W must have shape"),
        ({"V": np.ones((3, 3)), "n_components": 1, "H": -np.ones((1, 3))}, "H must be"),
        ({"V": np.ones((3, 3)), "n_components": 1, "dtype": np.int32}, "dtype"),
        ({"V": np.ones((3, 3)), "n_components": 1, "cost": 1.0}, "cost must be a Cost, got float"),
        ({"V": np.ones((3, 3)), "n_components": 1, "fit": {}}, "fit must be a Fit, got dict"),
    ],
)
def test_bad_arguments_raise_parameter_error_naming_the_value(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        nmf(**kwargs)


def test_templates_never_turn_subnormal_in_bands_the_data_barely_reaches():
    # Upsampled or low-passed recordings leave bands near silence; templates decaying
    # there must be flushed to zero, not left subnormal (which is ~100x slower).
    rng = np.random.default_rng(0)
    freqs = np.arange(200)
    peaks = [np.exp(-0.5 * ((freqs - c) / 3.0) ** 2) for c in rng.uniform(0, 200, 12)]
    V = ((np.stack(peaks, 1) + 1e-3) @ rng.exponential(size=(12, 300))).astype(np.float32)
    V[100:] *= 1e-6
    result = nmf(V, 8, fit=Fit(n_iter=300, tol=0, seed=0))
    tiny = np.finfo(np.float32).tiny
    assert not np.any((result.W > 0) & (result.W < tiny))
    assert not np.any((result.H > 0) & (result.H < tiny))
    assert np.all(np.diff(result.losses) <= 1e-6 * result.losses[0])  # still descending


def reference_update(V, W, H, fixed, n_iter, frozen=None):
    """Plain float64 multiplicative updates, only the free columns of W and rows of H learnt."""
    W, H = W.copy(), H.copy()
    frozen = np.zeros(W.shape[1], bool) if frozen is None else frozen
    for _ in range(n_iter):
        R = V / np.maximum(W @ H, EPSILON)
        W_new = W * (R @ H.T) / H.sum(axis=1)
        W[:, ~fixed] = W_new[:, ~fixed]
        R = V / np.maximum(W @ H, EPSILON)
        H_new = H * (W.T @ R) / W.sum(axis=0)[:, None]
        H[~frozen] = H_new[~frozen]
    return W, H


def test_partly_fixed_W_keeps_those_columns_and_matches_the_reference_update():
    rng = np.random.default_rng(0)
    V = rng.random((40, 70)) ** 3
    W0, H0 = rng.random((40, 5)) + 0.1, rng.random((5, 70)) + 0.1
    fixed = np.array([True, False, True, False, False])
    result = nmf_fixed(V, W0, H0, fixed, n_iter=15)
    np.testing.assert_array_equal(result.W[:, fixed], W0[:, fixed])  # kept as given, unscaled
    np.testing.assert_allclose(result.W[:, ~fixed].sum(axis=0), 1)  # learnt: unit sum
    W, H = reference_update(V, W0, H0, fixed, 15)
    np.testing.assert_allclose(result.W @ result.H, W @ H, rtol=1e-9)
    assert np.all(np.diff(result.losses) <= 1e-12 * result.losses[0])  # MU never goes up


def test_fixed_part_of_the_model_stays_and_the_rest_fits_around_it():
    rng = np.random.default_rng(1)
    V = rng.random((40, 70)) ** 3
    W0, H0 = rng.random((40, 5)) + 0.1, rng.random((5, 70)) + 0.1
    kept = np.array([True, True, False, False, True])
    result = nmfaudio.nmf(
        V, 5, W=W0, H=H0, fix_W=kept, fix_H=kept, dtype=np.float64, fit=Fit(n_iter=15, tol=0)
    )
    np.testing.assert_array_equal(result.H[kept], H0[kept])  # as given, unscaled
    np.testing.assert_array_equal(result.W[:, kept], W0[:, kept])
    W, H = reference_update(V, W0, H0, kept, 15, frozen=kept)
    np.testing.assert_allclose(result.W @ result.H, W @ H, rtol=1e-9)
    assert np.all(np.diff(result.losses) <= 1e-12 * result.losses[0])
    frozen_only = nmfaudio.nmf(V, 5, H=H0, fix_H=True, dtype=np.float64, fit=Fit(n_iter=10, tol=0))
    np.testing.assert_array_equal(frozen_only.H, H0)  # W learnt, H as given
    with pytest.raises(ParameterError, match="fix_H needs the activations H"):
        nmfaudio.nmf(V, 5, fix_H=kept)
    with pytest.raises(ParameterError, match="fix_H must be a bool or a boolean array"):
        nmfaudio.nmf(V, 5, H=H0, fix_H=[1, 0, 1, 0, 1])


def nmf_fixed(V, W0, H0, fixed, n_iter):
    return nmfaudio.nmf(
        V, 5, W=W0, H=H0, fix_W=fixed, dtype=np.float64, fit=Fit(n_iter=n_iter, tol=0)
    )


@pytest.mark.parametrize("mask", [np.ones(4, bool), np.array([1, 0, 1, 0, 1]), [True] * 3])
def test_fix_W_mask_must_be_boolean_of_length_K(mask):
    V = np.ones((10, 12))
    with pytest.raises(ParameterError, match="fix_W must be a bool or a boolean array"):
        nmfaudio.nmf(V, 5, W=np.ones((10, 5)), fix_W=mask)

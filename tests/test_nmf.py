"""KL-NMF: monotone loss, non-negativity, agreement with scikit-learn, options and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmfaudio import ParameterError, kl_divergence, nmf
from nmfaudio.frontend import magnitude, stft
from nmfaudio.nmf import EPSILON, initialize


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


@settings(max_examples=40, deadline=None)
@given(
    n_freq=st.integers(1, 30),
    n_frames=st.integers(1, 30),
    k_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
    init=st.sampled_from(["random", "nndsvda"]),
)
def test_loss_never_increases_and_factors_stay_non_negative(
    n_freq, n_frames, k_fraction, seed, dtype, init
):
    V = random_spectrogram(n_freq, n_frames, seed, dtype)
    k = 1 + int(k_fraction * (min(n_freq, n_frames) - 1))
    result = nmf(V, k, n_iter=30, tol=0, init=init, seed=seed, dtype=dtype)
    assert len(result.losses) == 30
    assert np.all(np.isfinite(result.losses))
    # Exact arithmetic never increases the loss; allow only rounding of the precision used:
    # the ratio V / WH is rounded, so the loss is resolved to about eps * sum(V) at best.
    eps = np.finfo(dtype).eps
    slack = 100 * eps * result.losses[:-1] + 10 * eps * V.sum(dtype=np.float64)
    assert np.all(np.diff(result.losses) <= slack), result.losses
    assert result.W.min() >= 0 and result.H.min() >= 0
    assert result.W.dtype == dtype and result.H.dtype == dtype


def test_loss_history_matches_divergence_of_returned_factors(example_V):
    result = nmf(example_V, 5, n_iter=50, tol=0, seed=1)
    assert kl_divergence(example_V, result.W, result.H) == pytest.approx(result.losses[-1], 1e-6)
    assert reference_kl(example_V, result.W, result.H) == pytest.approx(result.losses[-1], 1e-4)


def test_kl_divergence_of_exact_fit_is_zero_and_positive_otherwise():
    rng = np.random.default_rng(0)
    W, H = rng.random((6, 2)), rng.random((2, 9))
    assert kl_divergence(W @ H, W, H) == pytest.approx(0, abs=1e-12)
    assert kl_divergence(W @ H, W, 2 * H) == pytest.approx(reference_kl(W @ H, W, 2 * H))
    assert kl_divergence(W @ H, W, 2 * H) > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agrees_with_scikit_learn_from_the_same_start(example_V, dtype):
    sklearn_nmf = pytest.importorskip("sklearn.decomposition")
    V = example_V.astype(dtype)
    W0, H0 = initialize(V, 6, seed=3)
    ours = nmf(V, 6, n_iter=200, tol=0, W=W0, H=H0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns that max_iter was reached
        W_sk, H_sk, n_iter = sklearn_nmf.non_negative_factorization(
            V,
            W=W0.copy(),
            H=H0.copy(),
            n_components=6,
            init="custom",
            beta_loss="kullback-leibler",
            solver="mu",
            max_iter=200,
            tol=0,
        )
    assert n_iter == 200
    sklearn_loss = reference_kl(V, W_sk, H_sk)
    assert ours.losses[-1] == pytest.approx(sklearn_loss, rel=1e-3)
    if dtype == np.float64:  # same algorithm, same order: the same model up to rounding
        np.testing.assert_allclose(ours.W @ ours.H, W_sk @ H_sk, rtol=1e-6, atol=1e-9)


def test_fix_w_leaves_templates_untouched_and_fits_activations():
    rng = np.random.default_rng(0)
    W_true = rng.random((40, 3)).astype(np.float32)
    H_true = rng.random((3, 60)).astype(np.float32)
    W_given = W_true.copy()
    result = nmf(W_true @ H_true, 3, W=W_given, fix_W=True, n_iter=500, tol=0, seed=0)
    np.testing.assert_array_equal(result.W, W_true)
    np.testing.assert_array_equal(W_given, W_true)  # the caller's array is not modified
    assert result.W is not W_given
    assert result.losses[-1] < 1e-3 * result.losses[0]
    np.testing.assert_allclose(result.H, H_true, rtol=0.05, atol=0.02)


def test_fix_w_allows_more_templates_than_frames():
    W = np.random.default_rng(0).random((30, 12))
    result = nmf(np.ones((30, 5)), 12, W=W, fix_W=True, n_iter=10)
    assert result.H.shape == (12, 5)


def test_templates_have_unit_sum_and_model_is_unchanged(example_V):
    result = nmf(example_V, 4, n_iter=20, tol=0, seed=0)
    np.testing.assert_allclose(result.W.sum(axis=0), 1, rtol=1e-5)
    assert kl_divergence(example_V, result.W, result.H) == pytest.approx(result.losses[-1], 1e-5)


def test_tol_stops_early_and_zero_tol_runs_every_iteration(example_V):
    early = nmf(example_V, 4, n_iter=500, tol=1e-3, seed=0)
    full = nmf(example_V, 4, n_iter=500, tol=0, seed=0)
    assert 2 <= early.n_iter < 500
    assert full.n_iter == 500
    last, before = early.losses[-1], early.losses[-2]
    assert before - last <= 1e-3 * before
    assert np.all(early.losses[:-1][1:] < early.losses[:-2] * (1 - 1e-3))
    np.testing.assert_allclose(early.losses, full.losses[: early.n_iter])


def test_same_seed_same_result_other_seed_other_result(example_V):
    a = nmf(example_V, 3, n_iter=10, seed=7)
    b = nmf(example_V, 3, n_iter=10, seed=7)
    c = nmf(example_V, 3, n_iter=10, seed=8)
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.allclose(a.W, c.W)


def test_nndsvda_start_matches_scikit_learn(example_V):
    sklearn_nmf = pytest.importorskip("sklearn.decomposition._nmf")
    V = example_V.astype(np.float64)
    W, H = initialize(V, 8, init="nndsvda", seed=0)
    W_sk, H_sk = sklearn_nmf._initialize_nmf(V, 8, init="nndsvda", random_state=0)
    np.testing.assert_allclose(W @ H, W_sk @ H_sk, rtol=1e-6, atol=1e-9 * V.max())
    assert W.min() > 0 and H.min() > 0  # NNDSVDa fills zeros with the mean


def test_float32_by_default(example_V):
    result = nmf(example_V.astype(np.float64), 2, n_iter=2)
    assert result.W.dtype == np.float32 and result.H.dtype == np.float32


def test_all_zero_data_gives_finite_zero_model():
    result = nmf(np.zeros((20, 30)), 3, n_iter=10, tol=0)
    assert np.all(np.isfinite(result.W)) and np.all(np.isfinite(result.H))
    assert np.all(result.losses == 0)


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
        ({"V": np.ones((3, 3)), "n_components": 1, "n_iter": 0}, "n_iter"),
        ({"V": np.ones((3, 3)), "n_components": 1, "tol": -1}, "tol"),
        ({"V": np.ones((3, 3)), "n_components": 1, "init": "nmf"}, "'nmf'"),
        ({"V": np.ones((3, 3)), "n_components": 1, "fix_W": True}, "needs the templates"),
        ({"V": np.ones((3, 3)), "n_components": 1, "W": np.ones((3, 2))}, "W must have shape"),
        ({"V": np.ones((3, 3)), "n_components": 1, "H": -np.ones((1, 3))}, "H must be"),
        ({"V": np.ones((3, 3)), "n_components": 1, "dtype": np.int32}, "dtype"),
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
    result = nmf(V, 8, n_iter=300, tol=0, seed=0)
    tiny = np.finfo(np.float32).tiny
    assert not np.any((result.W > 0) & (result.W < tiny))
    assert not np.any((result.H > 0) & (result.H < tiny))
    assert np.all(np.diff(result.losses) <= 1e-6 * result.losses[0])  # still descending

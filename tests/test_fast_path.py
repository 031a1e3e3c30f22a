"""The blocked, threaded engine computes exactly the plain multiplicative updates."""

from __future__ import annotations

import numpy as np
import pytest

from nmfaudio import nmf
from nmfaudio._kernels import Engine, block_size, ratio_and_divergence
from nmfaudio.nmf import EPSILON, initialize

TINY = np.finfo(np.float64).eps


def plain_kl(V, W, H) -> float:
    WH = W @ H
    pos = V > 0
    log_ratio = np.log(V[pos] / np.maximum(WH[pos], EPSILON))
    return float(np.sum(V[pos] * log_ratio) - V.sum() + WH.sum())


def plain_nmf(V, W, H, n_iter, fix_W=False):
    """The oracle: Lee & Seung's KL updates with scikit-learn's safeguards, in float64."""
    V, W, H = (np.array(a, dtype=np.float64) for a in (V, W, H))
    losses = []
    for _ in range(n_iter):
        if not fix_W:
            R = V / np.maximum(W @ H, EPSILON)
            denominator = H.sum(axis=1)
            denominator[denominator == 0] = EPSILON
            W = W * (R @ H.T) / denominator
        R = V / np.maximum(W @ H, EPSILON)
        denominator = W.sum(axis=0)
        denominator[denominator == 0] = 1
        H = H * (W.T @ R) / denominator[:, None]
        H[H < TINY] = 0
        losses.append(plain_kl(V, W, H))
    return W, H, np.array(losses)


def spectrogram_like(n_freq, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    V = rng.exponential(size=(n_freq, 3)) @ rng.exponential(size=(3, n_frames))
    return V * (rng.random(V.shape) > 0.1)


SHAPES = [
    (1025, 1, 1),  # a single frame
    (1025, 200, 1),  # K = 1, fewer frames than one block
    (1025, 700, 5),  # several blocks, split across threads, a partial last block
    (37, 5000, 3),  # small n_freq: large blocks
    (10, 3, 3),  # K equal to n_frames
]


@pytest.mark.parametrize(("n_freq", "n_frames", "k"), SHAPES)
@pytest.mark.parametrize("fix_W", [False, True])
def test_fast_path_equals_plain_updates_in_float64(n_freq, n_frames, k, fix_W):
    V = spectrogram_like(n_freq, n_frames)
    W0, H0 = initialize(V, k, seed=1)
    W_ref, H_ref, losses_ref = plain_nmf(V, W0, H0, 25, fix_W)
    fast = nmf(V, k, W=W0, H=H0, fix_W=fix_W, n_iter=25, tol=0, dtype=np.float64)
    # A loss is resolved to about eps * sum(V): the floor of the comparison.
    np.testing.assert_allclose(fast.losses, losses_ref, rtol=1e-9, atol=1e-13 * V.sum())
    np.testing.assert_allclose(fast.W @ fast.H, W_ref @ H_ref, rtol=1e-8, atol=1e-12)
    if fix_W:
        np.testing.assert_array_equal(fast.W, W0)
        np.testing.assert_allclose(fast.H, H_ref, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(("n_freq", "n_frames", "k"), SHAPES)
def test_fast_path_equals_plain_updates_in_float32(n_freq, n_frames, k):
    V = spectrogram_like(n_freq, n_frames).astype(np.float32)
    W0, H0 = initialize(V, k, seed=2)
    W_ref, H_ref, losses_ref = plain_nmf(V, W0, H0, 25)
    fast = nmf(V, k, W=W0, H=H0, n_iter=25, tol=0)
    np.testing.assert_allclose(fast.losses, losses_ref, rtol=2e-4, atol=1e-6 * V.sum())
    scale = np.abs(W_ref @ H_ref).max()
    np.testing.assert_allclose(fast.W @ fast.H, W_ref @ H_ref, rtol=1e-3, atol=1e-5 * scale)


def test_result_does_not_depend_on_the_number_of_threads():
    V = spectrogram_like(513, 900).astype(np.float32)
    W0, H0 = initialize(V, 4, seed=0)
    results = []
    for n_threads in (1, 2, 3):
        engine = Engine(np.ascontiguousarray(V.T), EPSILON, n_threads=n_threads)
        W, Ht = W0.copy(), np.ascontiguousarray(H0.T)
        with engine.running():
            numerator, loss = engine.w_pass(W, Ht)
            engine.h_pass(W, Ht)
        results.append((numerator, loss, Ht))
    for numerator, loss, Ht in results[1:]:
        np.testing.assert_allclose(numerator, results[0][0], rtol=1e-5)
        assert loss == pytest.approx(results[0][1], rel=1e-6)
        np.testing.assert_allclose(Ht, results[0][2], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 255, 256, 257, 100_000])
def test_fused_ratio_and_divergence_kernel(dtype, size):
    rng = np.random.default_rng(size)
    V = (rng.exponential(size=size) * (rng.random(size) > 0.2)).astype(dtype)
    WH = rng.exponential(size=size).astype(dtype)
    WH[::7] = 0  # floored at eps in the ratio
    R = WH.copy()
    loss = ratio_and_divergence(V, R, dtype(EPSILON))
    expected_ratio = V / np.maximum(WH, dtype(EPSILON))
    np.testing.assert_array_equal(R, expected_ratio)  # the division is exact, not approximated
    assert loss == pytest.approx(plain_kl(V[:, None], WH[:, None], np.ones((1, 1))), rel=1e-6)


def test_float32_log_is_accurate_over_the_whole_range():
    # From the smallest normal float32 to where x log x still fits in float32.
    x = np.geomspace(np.finfo(np.float32).tiny, 1e30, 200_001)
    x = x.astype(np.float32)
    ones = np.ones_like(x)
    # With WH = 1 the divergence of each element is x log x - x + 1.
    for chunk in np.array_split(np.arange(x.size), 50):
        v = x[chunk]
        got = ratio_and_divergence(v, ones[chunk].copy(), np.float32(EPSILON))
        v64 = v.astype(np.float64)
        assert got == pytest.approx(np.sum(v64 * np.log(v64) - v64 + 1), rel=1e-6)


def test_block_size_keeps_the_buffer_near_one_mebibyte():
    assert 128 <= block_size(1025) and block_size(1025) * 1025 * 4 <= 2**20
    assert block_size(10) == 256 and block_size(100_000) == 16

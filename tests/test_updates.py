"""The blocked, threaded updates compute exactly the plain multiplicative updates, for every β
and penalty; the element kernels, the continuity gradient and the thread split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, settings
from hypothesis import strategies as st

from nmfaudio import nmf
from nmfaudio._kernels import block_size, median_filtered
from nmfaudio._updates import (
    EPSILON,
    H_FLOOR,
    Updates,
    continuity_cost,
    continuity_gradient,
    gamma,
    is_terms,
    kl_terms,
)
from nmfaudio.nmf import initialize
from nmfaudio.settings import Cost, Fit


def plain_divergence(V, WH, beta) -> float:
    """``D_β(V | W H)`` written out plainly in float64: the oracle."""
    V, WH = V.astype(np.float64), WH.astype(np.float64)
    floored = np.maximum(WH, EPSILON)
    pos = V > 0
    if beta == 0:
        r = V[pos] / floored[pos]
        return float(np.sum(r - np.log(r) - 1))
    if beta == 1:
        return float(np.sum(V[pos] * np.log(V[pos] / floored[pos])) - V.sum() + WH.sum())
    if beta == 2:
        return float(0.5 * np.sum((V - WH) ** 2))
    cross = np.sum(V * floored ** (beta - 1))
    return float((np.sum(V**beta) + (beta - 1) * np.sum(WH**beta) - beta * cross)
                 / (beta * (beta - 1)))  # fmt: skip


def plain_cost(V, W, H, beta, p: Cost) -> float:
    F, T = V.shape
    cost = plain_divergence(V, W @ H, beta)
    cost += T * p.sparsity_W * W.sum() + F * p.sparsity_H * H.sum()
    cost += T * p.l2_W / 2 * np.sum(W**2) + F * p.l2_H / 2 * np.sum(H**2)
    energy = np.sum(H**2, axis=1)
    rough = np.sum(np.diff(H, axis=1) ** 2, axis=1)
    return cost + F * p.continuity_H * T * np.sum(rough[energy > 0] / energy[energy > 0])


def plain_nmf(V, W, H, n_iter, beta=1.0, p=None, fix_W=False):
    """The oracle: Févotte & Idier's updates with scikit-learn's safeguards, in float64."""
    p = p or Cost()
    V, W, H = (np.array(a, dtype=np.float64) for a in (V, W, H))
    F, T = V.shape
    g = gamma(beta)
    losses = []
    for _ in range(n_iter):
        if not fix_W:
            WH = W @ H
            if beta == 2:
                numerator, denominator = V @ H.T, W @ (H @ H.T)
            else:
                numerator = (V * np.maximum(WH, EPSILON) ** (beta - 2)) @ H.T
                if beta == 1:
                    denominator = H.sum(axis=1)[None, :]
                else:
                    base = np.maximum(WH, EPSILON) if beta < 1 else WH
                    denominator = base ** (beta - 1) @ H.T
            denominator = denominator + T * p.sparsity_W + T * p.l2_W * W
            denominator[denominator == 0] = EPSILON
            W = W * (numerator / denominator) ** g
            if beta < 1:
                W[W < H_FLOOR] = 0
        WH = W @ H
        if beta == 2:
            numerator, denominator = W.T @ V, W.T @ W @ H
        else:
            numerator = W.T @ (V * np.maximum(WH, EPSILON) ** (beta - 2))
            if beta == 1:
                denominator = W.sum(axis=0)[:, None]
                denominator = np.where(denominator == 0, 1, denominator)
            else:
                base = np.maximum(WH, EPSILON) if beta < 1 else WH
                denominator = W.T @ base ** (beta - 1)
        if p.continuity_H:
            negative, positive = (F * p.continuity_H * a.T for a in continuity_gradient(H.T))
            numerator, denominator = numerator + negative, denominator + positive
        denominator = denominator + F * p.sparsity_H + F * p.l2_H * H
        denominator[denominator == 0] = EPSILON
        H = H * (numerator / denominator) ** g
        H[H < H_FLOOR] = 0
        losses.append(plain_cost(V, W, H, beta, p))
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
BETAS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
PENALTIES = {
    "none": Cost(),
    "L1 both": Cost(sparsity_W=1e-3, sparsity_H=2e-3),
    "L2 both": Cost(l2_W=1e-3, l2_H=2e-3),
    "continuity": Cost(continuity_H=1e-3),
    "all": Cost(sparsity_W=1e-3, sparsity_H=1e-3, l2_W=1e-3, l2_H=1e-3, continuity_H=1e-3),
}


@pytest.mark.parametrize(("n_freq", "n_frames", "k"), SHAPES)
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("fix_W", [False, True])
def test_fast_path_equals_plain_updates_for_every_beta(n_freq, n_frames, k, beta, fix_W):
    V = spectrogram_like(n_freq, n_frames)
    if beta < 1:
        V += 0.01  # the oracle's Itakura-Saito sum, like ours, skips zeros; keep them out
    W0, H0 = initialize(V, k, fit=Fit(seed=1))
    W_ref, H_ref, losses_ref = plain_nmf(V, W0, H0, 15, beta, fix_W=fix_W)
    fast = nmf(
        V,
        k,
        W=W0,
        H=H0,
        fix_W=fix_W,
        dtype=np.float64,
        cost=Cost(beta=beta),
        fit=Fit(n_iter=15, tol=0),
    )
    # A loss is resolved to about eps times its terms' magnitude: the floor of the comparison.
    np.testing.assert_allclose(fast.losses, losses_ref, rtol=1e-8, atol=1e-12 * V.sum() ** 2)
    np.testing.assert_allclose(fast.W @ fast.H, W_ref @ H_ref, rtol=1e-7, atol=1e-11)
    if fix_W:
        np.testing.assert_array_equal(fast.W, W0)


@pytest.mark.parametrize("name", list(PENALTIES))
@pytest.mark.parametrize("beta", [0.0, 1.0, 1.5, 2.0])
def test_penalties_equal_the_plain_updates(name, beta):
    p = PENALTIES[name]
    V = spectrogram_like(300, 700, seed=2) + (0.01 if beta < 1 else 0)
    W0, H0 = initialize(V, 4, fit=Fit(seed=2))
    W_ref, H_ref, losses_ref = plain_nmf(V, W0, H0, 15, beta, p)
    fast = nmf(
        V,
        4,
        W=W0,
        H=H0,
        dtype=np.float64,
        cost=dataclasses.replace(p, beta=beta),
        fit=Fit(n_iter=15, tol=0),
    )
    np.testing.assert_allclose(fast.losses, losses_ref, rtol=1e-8)
    np.testing.assert_allclose(fast.W @ fast.H, W_ref @ H_ref, rtol=1e-7, atol=1e-11)
    assert fast.cost.penalties == p.penalties
    if p.depends_on_scale:  # returned as fitted: the cost of these very factors
        np.testing.assert_allclose(fast.W, W_ref, rtol=1e-7, atol=1e-12)
        assert plain_cost(V, fast.W, fast.H, beta, p) == pytest.approx(fast.losses[-1], rel=1e-9)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize(("n_freq", "n_frames", "k"), SHAPES)
def test_fast_path_equals_plain_updates_in_float32(n_freq, n_frames, k, beta):
    V = (spectrogram_like(n_freq, n_frames) + (0.01 if beta < 1 else 0)).astype(np.float32)
    W0, H0 = initialize(V, k, fit=Fit(seed=2))
    W_ref, H_ref, losses_ref = plain_nmf(V, W0, H0, 15, beta)
    fast = nmf(V, k, W=W0, H=H0, cost=Cost(beta=beta), fit=Fit(n_iter=15, tol=0))
    # float32 ratios and products: the loss to about 1e-4 of the data's own size
    size = plain_divergence(V, np.full_like(V, V.mean()), beta)
    np.testing.assert_allclose(fast.losses, losses_ref, rtol=2e-4, atol=1e-5 * size)
    scale = np.abs(W_ref @ H_ref).max()
    np.testing.assert_allclose(fast.W @ fast.H, W_ref @ H_ref, rtol=2e-3, atol=1e-5 * scale)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0, 1.5])
def test_result_does_not_depend_on_the_number_of_threads(beta):
    V = (spectrogram_like(513, 900) + 0.01).astype(np.float32)
    W0, H0 = initialize(V, 4, fit=Fit(seed=0))
    keep = np.zeros(4, bool)
    results = []
    for n_threads in (1, 2, 3):
        updates = Updates(np.ascontiguousarray(V.T), Cost(beta=beta), n_threads=n_threads)
        W, Ht = W0.copy(), np.ascontiguousarray(H0.T)
        with updates.running():
            loss = updates.update_W(W, Ht, keep)
            updates.update_H(W, Ht, keep)
        results.append((W, loss, Ht))
    for W, loss, Ht in results[1:]:
        np.testing.assert_allclose(W, results[0][0], rtol=1e-5)
        assert loss == pytest.approx(results[0][1], rel=1e-6)
        np.testing.assert_allclose(Ht, results[0][2], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 255, 256, 257, 100_000])
def test_kl_kernel_divides_exactly_and_sums_the_divergence(dtype, size):
    rng = np.random.default_rng(size)
    V = (rng.exponential(size=size) * (rng.random(size) > 0.2)).astype(dtype)
    WH = rng.exponential(size=size).astype(dtype)
    WH[::7] = 0  # floored at eps in the ratio
    A = WH.copy()
    loss = kl_terms(V, A, dtype(EPSILON), True)
    np.testing.assert_array_equal(A, V / np.maximum(WH, dtype(EPSILON)))  # exact, not approximated
    assert loss == pytest.approx(plain_divergence(V, WH, 1), rel=1e-6)
    A = WH.copy()
    assert kl_terms(V, A, dtype(EPSILON), False) == 0
    np.testing.assert_array_equal(A, V / np.maximum(WH, dtype(EPSILON)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 255, 256, 257, 100_000])
def test_is_kernel_terms_and_divergence(dtype, size):
    rng = np.random.default_rng(size)
    V = (rng.exponential(size=size) * (rng.random(size) > 0.2)).astype(dtype)
    WH = rng.exponential(size=size).astype(dtype)
    WH[::7] = 0
    A, B = WH.copy(), np.empty_like(WH)
    loss = is_terms(V, A, B, dtype(EPSILON), True)
    floored = np.maximum(WH, dtype(EPSILON)).astype(np.float64)
    np.testing.assert_allclose(B, 1 / floored, rtol=1e-6)
    np.testing.assert_allclose(A, V / floored**2, rtol=1e-6)
    assert loss == pytest.approx(plain_divergence(V, WH, 0), rel=1e-5)


def test_float32_log_is_accurate_over_the_whole_range():
    # From the smallest normal float32 to where x log x still fits in float32.
    x = np.geomspace(np.finfo(np.float32).tiny, 1e30, 200_001).astype(np.float32)
    ones = np.ones_like(x)
    # With WH = 1 the divergence of each element is x log x - x + 1.
    for chunk in np.array_split(np.arange(x.size), 50):
        v = x[chunk]
        got = kl_terms(v, ones[chunk].copy(), np.float32(EPSILON), True)
        v64 = v.astype(np.float64)
        assert got == pytest.approx(np.sum(v64 * np.log(v64) - v64 + 1), rel=1e-6)


def test_continuity_gradient_is_the_gradient_of_the_cost():
    rng = np.random.default_rng(0)
    Ht = rng.exponential(size=(12, 3))
    negative, positive = continuity_gradient(Ht)
    assert negative.min() >= 0 and positive.min() >= 0
    step = 1e-6
    numeric = np.zeros_like(Ht)
    for index in np.ndindex(Ht.shape):
        up, down = Ht.copy(), Ht.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (continuity_cost(up) - continuity_cost(down)) / (2 * step)
    np.testing.assert_allclose(positive - negative, numeric, rtol=1e-5, atol=1e-7)


def test_continuity_cost_is_scale_free_and_zero_for_constant_rows():
    Ht = np.random.default_rng(1).exponential(size=(50, 2))
    assert continuity_cost(3 * Ht) == pytest.approx(continuity_cost(Ht))
    assert continuity_cost(np.ones((50, 2))) == 0
    assert continuity_cost(np.zeros((50, 2))) == 0


def test_block_size_keeps_the_buffer_near_one_mebibyte():
    assert 128 <= block_size(1025) and block_size(1025) * 1025 * 4 <= 2**20
    assert block_size(10) == 256 and block_size(100_000) == 16


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6), st.integers(1, 60), st.sampled_from([1, 3, 31]), st.integers(0, 2**32 - 1)
)
def test_running_median_is_scipys_median_filter(n_rows, n_columns, width, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (n_rows, n_columns)).astype(np.float64)  # ties, and zeros
    reflected = np.pad(x, ((0, 0), (width // 2, width // 2)), mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(reflected, width, axis=1)
    got = median_filtered(x, width)
    np.testing.assert_array_equal(got, np.median(windows, axis=2))
    if n_columns > width // 2:  # reflected once: past that, scipy 1.17 reads garbage
        expected = scipy.ndimage.median_filter(x, size=(1, width), mode="reflect")
        np.testing.assert_array_equal(got, expected)

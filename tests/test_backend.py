"""The soft-mask back end: masks in [0, 1] that sum to one, groups, powers, the inverse STFT."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import music_like, settings_of
from hypothesis import given, settings
from hypothesis import strategies as st

import nmfaudio
from nmfaudio import ParameterError, STFTConfig, backend
from nmfaudio.backend import istft, iter_components, mask_denominator, soft_mask
from nmfaudio.frontend import stft


@settings(max_examples=50, deadline=None)
@given(
    n_freq=st.integers(1, 20),
    n_frames=st.integers(1, 20),
    n_components=st.integers(1, 6),
    power=st.sampled_from([0.5, 1.0, 2.0, 3.5]),
    zero_fraction=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_masks_lie_in_unit_interval_and_sum_to_one(
    n_freq, n_frames, n_components, power, zero_fraction, seed
):
    rng = np.random.default_rng(seed)
    W = rng.random((n_freq, n_components)) * (rng.random((n_freq, n_components)) > zero_fraction)
    H = rng.random((n_components, n_frames))
    denominator = mask_denominator(W, H, power=power)
    masks = np.stack(
        [soft_mask(W, H, k, power=power, denominator=denominator) for k in range(n_components)]
    )
    assert masks.min() >= 0 and masks.max() <= 1 + 1e-12
    np.testing.assert_allclose(masks.sum(axis=0), 1, rtol=1e-10)


@settings(max_examples=50, deadline=None)
@given(
    n_components=st.integers(1, 7),
    n_groups=st.integers(1, 7),
    power=st.sampled_from([0.5, 1.0, 2.0, 3.5]),
    zero_fraction=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_group_masks_sum_to_one_and_power_applies_to_the_group_model(
    n_components, n_groups, power, zero_fraction, seed
):
    rng = np.random.default_rng(seed)
    n_groups = min(n_groups, n_components)
    labels = np.concatenate([np.arange(n_groups), rng.integers(0, n_groups, n_components)])
    labels = (
        rng.permutation(labels[:n_components]) if n_groups < n_components else labels[:n_groups]
    )
    groups = [np.flatnonzero(labels == g) for g in range(n_groups)]
    W = rng.random((9, n_components)) * (rng.random((9, n_components)) > zero_fraction)
    H = rng.random((n_components, 11))
    masks = np.stack([soft_mask(W, H, g, power=power, groups=groups) for g in range(n_groups)])
    assert masks.min() >= 0 and masks.max() <= 1 + 1e-12
    np.testing.assert_allclose(masks.sum(axis=0), 1, rtol=1e-10)
    models = np.stack([W[:, g] @ H[g] for g in groups])
    full = models.sum(axis=0) > 0
    expected = models[:, full] ** power / np.sum(models[:, full] ** power, axis=0)
    np.testing.assert_allclose(masks[:, full], expected, rtol=1e-10)
    np.testing.assert_allclose(masks[:, ~full], 1 / n_groups)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[0, 1]], "exactly once; component 2 is in 0"),
        ([[0, 1], [1, 2]], "exactly once; component 1 is in 2"),
        ([[0], [1], [2], [3]], "out of range for 3 components"),
        ([[0, 1, 2], []], "one or more components"),
    ],
)
def test_groups_must_partition_the_components(groups, message):
    with pytest.raises(ParameterError, match=message):
        soft_mask(np.ones((3, 3)), np.ones((3, 4)), 0, power=1, groups=groups)


def test_group_signals_match_the_reference_masks():
    y = music_like(2)
    config = STFTConfig(n_fft=512, hop_length=128)
    X = stft(y, config)
    rng = np.random.default_rng(1)
    W, H = rng.random((config.n_freq, 5)), rng.random((5, X.shape[-1]))
    groups = [[0, 3], [1], [2, 4]]
    for power in (1.0, 2.0):
        signals = list(
            iter_components(X, W, H, config=config, length=y.shape[1], power=power, groups=groups)
        )
        for g, signal in enumerate(signals):
            mask = soft_mask(W, H, g, power=power, groups=groups)
            expected = istft(X * mask, config=config, length=y.shape[1])
            np.testing.assert_allclose(signal, expected, atol=1e-5)
        np.testing.assert_allclose(np.sum(signals, axis=0), y, atol=1e-4)


def test_higher_mask_power_is_more_selective():
    W = np.array([[3.0, 1.0]])
    H = np.ones((2, 1))
    assert soft_mask(W, H, 0, power=1)[0, 0] == pytest.approx(0.75)
    assert soft_mask(W, H, 0, power=2)[0, 0] == pytest.approx(0.9)


def test_mask_of_missing_component_is_an_index_error():
    with pytest.raises(IndexError, match="component 2 out of range"):
        soft_mask(np.ones((3, 2)), np.ones((2, 4)), 2, power=1)


@pytest.mark.parametrize("n_channels", [1, 2, 6])
def test_components_sum_to_the_input(n_channels):
    y = music_like(n_channels)
    config = STFTConfig(n_fft=512, hop_length=128)
    X = stft(y, config)
    rng = np.random.default_rng(0)
    W, H = rng.random((config.n_freq, 3)), rng.random((3, X.shape[-1]))
    parts = list(iter_components(X, W, H, config=config, length=y.shape[1], power=2.0))
    assert len(parts) == 3 and parts[0].shape == y.shape
    np.testing.assert_allclose(np.sum(parts, axis=0), y, atol=1e-4 * np.abs(y).max())


@pytest.mark.parametrize(
    ("n_fft", "hop", "n_samples"), [(512, 128, 4000), (2048, 512, 44100), (1024, 1024 // 3, 777)]
)
def test_istft_matches_librosa(n_fft, hop, n_samples):
    librosa = pytest.importorskip("librosa")
    y = music_like(2, seconds=n_samples / 8000)[:, :n_samples]
    config = STFTConfig(n_fft=n_fft, hop_length=hop)
    X = stft(np.pad(y, ((0, 0), (0, max(0, n_fft - n_samples)))), config)
    X *= np.random.default_rng(0).random(X.shape)  # not the STFT of any signal
    for length in (n_samples, n_samples + 3 * hop, n_samples // 2):
        expected = librosa.istft(X, hop_length=hop, n_fft=n_fft, length=length)
        np.testing.assert_allclose(istft(X, config=config, length=length), expected, atol=1e-6)


def test_high_mask_powers_stay_finite_and_sum_to_the_input():
    # Loud samples (floats up to 1e5) and power 8: the models' eighth powers overflowed
    # float32 before they were scaled (NaN masks).
    y = (music_like(2, seconds=1.0) * 1e5).astype(np.float32)
    for power in (1.0, 2.0, 8.0):
        result = nmfaudio.separate(
            y, 8000, 3, settings=settings_of(n_fft=512, hop_length=128, n_iter=10, mask_power=power)
        )
        parts = result.components
        assert np.isfinite(parts).all()
        np.testing.assert_allclose(parts.sum(axis=0), y, rtol=0, atol=1e-5 * np.abs(y).max())
    with pytest.raises(nmfaudio.ParameterError, match="mask_power must be at most 8"):
        nmfaudio.separate(
            y, 8000, 3, settings=settings_of(n_fft=512, hop_length=128, mask_power=24)
        )


def test_models_are_scaled_by_a_power_of_two_only_for_high_powers():
    rng = np.random.default_rng(0)
    W, H = rng.random((33, 4)).astype(np.float32) * 50, rng.random((4, 20)).astype(np.float32)
    assert backend.scaled_for_masks(W, H, 2.0) is W  # Wiener masks exactly as they were
    scaled = backend.scaled_for_masks(W, H, 8.0)
    scale = 2.0 ** -np.ceil(np.log2(W.max(axis=0) @ H.max(axis=1)))
    np.testing.assert_array_equal(scaled, W * np.float32(scale))  # a power of two, exactly
    assert 0.5 < (scaled @ H).max() <= 1.0
    for k in range(4):  # soft_mask scales itself: the same masks, from finite powers
        plain = backend.soft_mask(W.astype(np.float64), H.astype(np.float64), k, power=8.0)
        np.testing.assert_allclose(backend.soft_mask(W, H, k, power=8.0), plain, atol=1e-6)


@given(
    lengths=st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=6), min_size=1, max_size=3),
    n_mean=st.integers(0, 2),
)
@settings(max_examples=50, deadline=None)
def test_streams_of_blocks_that_do_not_line_up_are_averaged_sample_for_sample(lengths, n_mean):
    # Every stream tiles the same 30 samples of 3 parts (2 channels), in blocks of its own.
    rng = np.random.default_rng(0)
    parts = rng.standard_normal((len(lengths), 3, 30, 2)).astype(np.float32)

    def stream(i, sizes):
        cuts = np.unique(np.minimum(np.cumsum(sizes), 30))
        for lo, hi in zip([0, *cuts[:-1]], [*cuts[:-1], 30], strict=True):
            yield [part[lo:hi] for part in parts[i]]

    blocks = list(backend.mean_of_streams([stream(i, s) for i, s in enumerate(lengths)], n_mean))
    got = [np.concatenate([b[p] for b in blocks]) for p in range(3)]
    for p in range(3):
        want = parts[:, p].mean(axis=0) if p < n_mean else parts[0, p]
        np.testing.assert_allclose(got[p], want, rtol=0, atol=1e-6)

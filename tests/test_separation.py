"""Arrays to separations: the components sum to the input, find what is there, and bad input
is refused in the caller's terms."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import music_like, settings_of

import nmfaudio
from nmfaudio import AudioFileError, ParameterError


@pytest.mark.parametrize("n_channels", [1, 2, 6])
def test_separate_components_sum_to_input(n_channels):
    y = music_like(n_channels)
    result = nmfaudio.separate(
        y, 8000, 4, settings=settings_of(n_fft=512, hop_length=128, n_iter=50, seed=0)
    )
    assert result.components.shape == (4, n_channels, y.shape[1])
    assert result.W.shape == (257, 4) and result.H.shape[0] == 4
    assert result.sr == 8000 and result.n_components == 4
    error = np.abs(result.components.sum(axis=0) - y).max()
    assert error <= 1e-4 * np.abs(y).max()


def test_parts_keep_the_layout_of_the_input():
    """A 1-D signal gives 1-D parts, as librosa's functions do; (1, n) gives (1, n) parts."""
    settings = settings_of(n_fft=512, hop_length=128, n_iter=5)
    y = music_like(1)[0]
    result = nmfaudio.separate(y, 8000, 2, settings=settings)
    assert result.components.shape == (2, y.size)
    np.testing.assert_allclose(result.components.sum(axis=0), y, atol=1e-5)
    sources = list(nmfaudio.separate_sources(y, 8000, 2, n_restarts=1, settings=settings)
                   .iter_sources())  # fmt: skip
    assert [s.shape for s in sources] == [y.shape, y.shape]
    assert nmfaudio.separate(y[None], 8000, 2, settings=settings).components.shape == (
        2, 1, y.size,
    )  # fmt: skip


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_separate_finds_two_tones_that_alternate():
    sr = 8000
    t = np.arange(sr) / sr
    low = np.sin(2 * np.pi * 300 * t) * (t < 0.5)
    high = np.sin(2 * np.pi * 1700 * t) * (t >= 0.5)
    result = nmfaudio.separate(
        low + high, sr, 2, settings=settings_of(n_fft=512, hop_length=128, seed=0)
    )
    # Each true tone is captured by one component almost entirely (relative RMS error).
    for truth in (low, high):
        errors = [rms(c - truth) / rms(truth) for c in result.components]
        assert min(errors) < 0.03


def test_the_library_is_reproducible_by_default_and_random_on_request():
    y = music_like(1)
    first, again = (
        nmfaudio.separate(y, 8000, 3, settings=settings_of(n_iter=20)) for _ in range(2)
    )
    np.testing.assert_array_equal(first.losses, again.losses)  # seed 0, as the CLI
    np.testing.assert_array_equal(
        first.W, nmfaudio.separate(y, 8000, 3, settings=settings_of(n_iter=20, seed=0)).W
    )
    fresh = [
        nmfaudio.separate(y, 8000, 3, settings=settings_of(n_iter=20, seed=None)).W
        for _ in range(2)
    ]
    assert not np.array_equal(*fresh)


def test_silent_input_gives_silent_components_and_a_warning():
    with pytest.warns(UserWarning, match="silent"):
        result = nmfaudio.separate(
            np.zeros((2, 4000)), 8000, 3, settings=settings_of(n_fft=512, hop_length=128)
        )
    assert np.all(result.components == 0)
    assert np.all(np.isfinite(result.W)) and np.all(np.isfinite(result.H))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"y": np.zeros((1, 0))}, AudioFileError, "no samples"),
        ({"y": np.full((1, 4000), np.nan)}, AudioFileError, "NaN"),
        ({"y": np.ones((1, 100))}, AudioFileError, "shorter than one STFT frame"),
        ({"n_components": 0}, ParameterError, "n_components"),
        ({"n_components": 5000}, ParameterError, "need a recording of at least 5000 STFT frames"),
        ({"sr": 0}, ParameterError, "sr must be a positive integer"),
        ({"mask_power": 0}, ParameterError, "mask_power must be greater than 0"),
    ],
)
def test_separate_refuses_bad_input(kwargs, error, message):
    args = {"y": music_like(1), "sr": 8000, "n_components": 2, **kwargs}
    power = args.pop("mask_power", 2.0)
    with pytest.raises(error, match=message):
        nmfaudio.separate(**args, settings=settings_of(n_fft=512, hop_length=128, mask_power=power))


def test_real_music_piano_sax_sums_back(separation_case):
    case = separation_case("piano_sax")
    y, sr = nmfaudio.load(case / "mixture.wav")
    result = nmfaudio.separate(y, sr, 4, settings=settings_of(seed=0))
    error = np.abs(result.components.sum(axis=0) - y).max()
    assert error <= 1e-4 * np.abs(y).max()
    assert result.losses[-1] < 0.5 * result.losses[0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y: nmfaudio.separate(np.zeros((0, 44100)), 8000, 2), "at least one channel"),
        (
            lambda y: nmfaudio.separate(y, 8000, 1, settings=settings_of(n_fft=1, hop_length=1)),
            "use 52 or more",
        ),
        (
            lambda y: nmfaudio.separate(y, 8000, 2, settings=settings_of(seed=-1)),
            "seed must be a whole number >= 0",
        ),
        (
            lambda y: nmfaudio.separate(y, 8000, 2, settings=settings_of(seed="x")),
            "seed must be a whole number >= 0",
        ),
        (lambda y: nmfaudio.separate("hello", 8000), "read a file with nmfaudio.load"),
        (lambda y: nmfaudio.separate_with_templates(y, 8000, ["x.npz"]), "x.npz: no such file"),
        (lambda y: nmfaudio.separate_with_templates(y, 8000, [3]), "templates must be Templates"),
        (lambda y: nmfaudio.load("x.wav", sr=10**9), "sr must be from 1000 to 655350 Hz"),
    ],
)
def test_bad_library_calls_raise_nmfaudio_errors(call, message):
    y = music_like(1, seconds=0.5)
    with pytest.raises(nmfaudio.NmfaudioError, match=re.escape(message)):
        call(y)

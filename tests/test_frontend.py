"""The STFT front end: shapes, librosa's values, the channel mix, frames too short."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import music_like

from nmfaudio import AudioFileError, STFTConfig
from nmfaudio.backend import istft
from nmfaudio.frontend import magnitude, stft


def test_stft_shape_and_round_trip():
    y = music_like(2, seconds=0.5)
    config = STFTConfig(n_fft=512, hop_length=128)
    X = stft(y, config)
    assert X.shape == (2, config.n_freq, config.n_frames(y.shape[1]))
    assert X.dtype == np.complex64
    np.testing.assert_allclose(istft(X, config=config, length=y.shape[1]), y, atol=1e-5)


def test_magnitude_is_abs_for_mono_and_rms_across_channels():
    y = music_like(3, seconds=0.3)
    X = stft(y, STFTConfig(n_fft=256, hop_length=64))
    np.testing.assert_allclose(magnitude(X[:1]), np.abs(X[0]), rtol=1e-6)
    np.testing.assert_allclose(magnitude(X), np.sqrt(np.mean(np.abs(X) ** 2, axis=0)), rtol=1e-5)
    # Out-of-phase channels do not cancel, unlike the STFT of a down-mix.
    opposite = stft(np.stack([y[0], -y[0]]), STFTConfig(n_fft=256, hop_length=64))
    np.testing.assert_allclose(magnitude(opposite), np.abs(opposite[0]), rtol=1e-6)


def test_audio_shorter_than_a_frame_is_refused():
    with pytest.raises(AudioFileError, match="shorter than one STFT frame"):
        stft(np.zeros((1, 100), np.float32), STFTConfig(n_fft=2048))


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (512, 128), (1024, 1024 // 3), (255, 64)])
@pytest.mark.parametrize("n_channels", [1, 2])
def test_stft_matches_librosa_and_keeps_frames_contiguous(n_fft, hop, n_channels):
    librosa = pytest.importorskip("librosa")
    y = music_like(n_channels, seconds=1.3)
    X = stft(y, STFTConfig(n_fft=n_fft, hop_length=hop))
    expected = librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")
    assert X.shape == expected.shape and X.dtype == expected.dtype
    np.testing.assert_allclose(X, expected, atol=1e-4 * np.abs(expected).max())
    assert X[0].T.flags.c_contiguous  # frames are rows in memory
    assert magnitude(X).T.flags.c_contiguous

"""Shared fixtures: example audio, the real recordings beside the checkout, WAV writing,
synthetic instruments and the settings the tests use."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import nmfaudio
from nmfaudio.settings import Cost, Fit, Settings, STFTConfig

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "example"
SHARED_DATA = Path(os.environ.get("NMFAUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def example_mixture() -> Path:
    return EXAMPLE / "mixture.wav"


@pytest.fixture
def separation_case():
    """Path of a real recording case under ../shared/data/separation, or skip."""

    def get(case: str) -> Path:
        folder = SHARED_DATA / "separation" / case
        if not (folder / "mixture.wav").exists():
            pytest.skip(f"real recordings not available at {folder}")
        return folder

    return get


def music_like(n_channels: int, seconds: float = 1.0, sr: int = 8000, seed: int = 0) -> np.ndarray:
    """Harmonic tones and noise bursts, different in every channel, shape (n_channels, n)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    channels = []
    for c in range(n_channels):
        f0 = 110 * (c + 2)
        tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 5)) * (t < seconds / 2)
        burst = rng.standard_normal(t.size) * np.exp(-((t - 0.7 * seconds) % 0.25) / 0.02)
        channels.append(0.2 * tone + 0.1 * burst)
    return np.array(channels, dtype=np.float32)


@pytest.fixture
def write_wav(tmp_path):
    """Write ``(n_channels, n)`` samples to a float WAV in tmp_path; return its path."""

    def write(name: str, y: np.ndarray, sr: int = 8000) -> Path:
        path = tmp_path / name
        sf.write(path, np.atleast_2d(y).T, sr, subtype="FLOAT")
        return path

    return write


def settings_of(**flat) -> Settings:
    """Settings from the flat options the tests write (``n_fft``, ``n_iter``, ``beta``,
    ``sparsity``, ...), the library's defaults for the rest."""

    def take(*names):
        return {name: flat.pop(name) for name in names if name in flat}

    settings = Settings(
        stft=STFTConfig(**take("n_fft", "hop_length")),
        cost=Cost.of(**take("beta", "sparsity", "continuity")),
        fit=Fit(**take("n_iter", "tol", "init", "seed")),
        **take("mask_power"),
    )
    if flat:
        raise TypeError(f"settings_of() got unknown settings {sorted(flat)}")
    return settings


#: Sample rate of the synthetic instruments below, and their fast STFT settings.
SR = 8000
FAST = {"n_fft": 512, "hop_length": 128}


def tones(notes, seconds=2.0, seed=0, harmonics=range(1, 6)) -> np.ndarray:
    """A harmonic instrument playing ``notes`` (Hz) one after another, mono."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = np.repeat(notes, -(-t.size // len(notes)))[: t.size]
    phase = 2 * np.pi * np.cumsum(f0) / SR
    envelope = np.exp(-(t % (seconds / len(notes))) * 3)
    return (0.3 * envelope * sum(np.sin(h * phase) / h for h in harmonics)).astype(np.float32)


def clicks(seconds=2.0, period=0.25, seed=0) -> np.ndarray:
    """A percussive instrument: high-passed noise bursts, mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    noise = np.diff(rng.standard_normal(t.size + 1))
    return (0.2 * noise * np.exp(-(t % period) / 0.01)).astype(np.float32)


def snr(reference, estimate) -> float:
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


@pytest.fixture
def drum_kit():
    """Templates of a tone and of clicks, learnt from recordings other than the mix.

    Harmonic templates are pitch-specific: the tone's are learnt on its notes.
    """
    notes = tones([220, 330, 262, 392], seconds=1.5)
    tone = nmfaudio.learn([notes], SR, 4, name="tone", settings=settings_of(seed=0, **FAST))
    click = nmfaudio.learn(
        [clicks(period=0.3, seed=5)], SR, 2, name="click", settings=settings_of(seed=0, **FAST)
    )
    return tone, click

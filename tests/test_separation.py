"""The library pipeline and audio I/O: load, separate, save."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf
from conftest import music_like, settings_of

import nmfaudio
from nmfaudio import AudioFileError, ParameterError
from nmfaudio.outputs import write_many


@pytest.mark.parametrize("n_channels", [1, 2, 6])
def test_load_keeps_channels_rate_and_samples(write_wav, n_channels):
    y = music_like(n_channels)
    loaded, sr = nmfaudio.load(write_wav("x.wav", y, sr=8000))
    assert sr == 8000 and loaded.shape == y.shape and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, y)


def test_load_resamples_on_request(write_wav):
    y = music_like(2, seconds=1.0, sr=8000)
    loaded, sr = nmfaudio.load(write_wav("x.wav", y, sr=8000), sr=16000)
    assert sr == 16000 and loaded.shape == (2, 16000)


def test_load_reads_flac_and_ogg(tmp_path):
    y = music_like(2)
    for ext in ("flac", "ogg"):
        sf.write(tmp_path / f"x.{ext}", y.T, 8000)
        loaded, sr = nmfaudio.load(tmp_path / f"x.{ext}")
        assert loaded.shape[0] == 2 and sr == 8000 and abs(loaded.shape[1] - y.shape[1]) < 1024


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.wav", "no such file"),
        (lambda p: p, "is a directory"),
        (lambda p: _write_bytes(p / "text.wav", b"this is not audio" * 100), "not an audio file"),
        (lambda p: _write_bytes(p / "empty.wav", b""), "not an audio file"),
        (lambda p: _write_samples(p / "zero.wav", np.zeros((0, 1))), "contains no samples"),
        (lambda p: _write_samples(p / "nan.wav", np.array([[0.1], [np.nan]] * 500)), "NaN"),
        (lambda p: _write_samples(p / "inf.wav", np.array([[0.1], [np.inf]] * 500)), "infinite"),
    ],
)
def test_load_refuses_bad_files_with_a_clear_error(tmp_path, make, message):
    with pytest.raises(AudioFileError, match=message):
        nmfaudio.load(make(tmp_path))


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def _write_samples(path, samples):
    sf.write(path, samples, 8000, subtype="FLOAT")
    return path


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


def test_separate_accepts_one_dimensional_mono():
    y = music_like(1)[0]
    result = nmfaudio.separate(
        y, 8000, 2, settings=settings_of(n_fft=512, hop_length=128, n_iter=5)
    )
    assert result.components.shape == (2, 1, y.size)


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
        errors = [rms(c[0] - truth) / rms(truth) for c in result.components]
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


def test_save_writes_each_component_with_rate_channels_and_subtype(tmp_path):
    y = music_like(2)
    result = nmfaudio.separate(
        y, 8000, 3, settings=settings_of(n_fft=512, hop_length=128, n_iter=20)
    )
    paths = nmfaudio.save(result, tmp_path / "out", output=nmfaudio.Output(subtype="PCM_24"))
    assert [p.name for p in paths] == [
        "component_00.wav", "component_01.wav", "component_02.wav", "nmfaudio.json"
    ]  # fmt: skip
    total = 0
    for path, component in zip(paths[:-1], result.components, strict=True):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 2, "PCM_24")
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        np.testing.assert_allclose(data.T, component, atol=2**-22)
        total = total + data.T
    np.testing.assert_allclose(total, y, atol=1e-4)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary left behind


def test_pcm_clipping_is_never_silent(tmp_path):
    loud = np.array([[0.5, 1.5, -2.0, 0.1]] * 2, dtype=np.float32)
    with pytest.warns(UserWarning, match=r"peak 2.000 exceeds 1.0 and is clipped in PCM_16"):
        write_many(tmp_path, [("loud.wav", loud)], 8000, subtype="PCM_16")
    data, _ = sf.read(tmp_path / "loud.wav", always_2d=True)
    assert data.max() <= 1.0 and data.min() >= -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_many(tmp_path, [("float.wav", loud)], 8000, subtype="FLOAT")


def test_failure_part_way_leaves_nothing_behind(tmp_path):
    def items():
        yield "a.wav", np.zeros((1, 100), np.float32)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_many(tmp_path / "out", items(), 8000)
    assert os.listdir(tmp_path) == []


def test_output_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AudioFileError, match="exists and is not a directory"):
        write_many(tmp_path / "file", [("a.wav", np.zeros((1, 10)))], 8000)


def test_bad_subtype_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="subtype must be one of"):
        write_many(tmp_path, [("a.wav", np.zeros((1, 10)))], 8000, subtype="MP3")


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


def test_a_truncated_mp3_is_separated_at_its_decoded_length(tmp_path):
    whole = tmp_path / "whole.mp3"
    try:
        sf.write(whole, music_like(1, seconds=3.0, sr=44100).T, 44100, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError):
        pytest.skip("this libsndfile writes no MP3")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 3])
    decoded = len(sf.read(cut)[0])
    assert decoded < sf.info(cut).frames  # the header still promises the whole
    code = (
        "import sys, warnings; from nmfaudio.cli import main;"
        f" sys.exit(main(['separate', {str(cut)!r}, '-k', '2', '-o', {str(tmp_path / 'o')!r},"
        " '--iterations', '5', '-q']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        f"nmfaudio: warning: {cut}: truncated: its header promises {sf.info(cut).frames}"
        f" samples but only {decoded} could be decoded; separating those"
    )  # and nothing of libmpg123's own
    assert sf.info(tmp_path / "o" / "component_00.wav").frames == decoded

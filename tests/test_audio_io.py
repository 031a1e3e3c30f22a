"""Reading audio: every channel, rate and sample kept, other formats, bad and truncated files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import music_like

import nmfaudio
from nmfaudio import AudioFileError
from nmfaudio.audio_io import BlockReader, array_reader


@pytest.mark.parametrize("n_channels", [1, 2, 6])
def test_load_keeps_channels_rate_and_samples(write_wav, n_channels):
    y = music_like(n_channels)
    loaded, sr = nmfaudio.load(write_wav("x.wav", y, sr=8000))
    assert sr == 8000 and loaded.shape == y.shape and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, y)


def test_an_array_reads_as_its_file_does(write_wav):
    y = music_like(2, seconds=0.1, sr=8000)
    before = y.copy()
    read = array_reader(y)
    with BlockReader(write_wav("x.wav", y, sr=8000)) as reader:
        for start, stop in ((-50, 30), (0, 800), (700, 900), (900, 950), (-10, -5), (5, 5)):
            got = read(start, stop)
            assert got.dtype == np.float32 and got.shape == (2, stop - start)
            np.testing.assert_array_equal(got, reader.read(start, stop))
    assert not read(-50, 0).any() and not read(800, 900).any()  # zeros outside
    np.testing.assert_array_equal(y, before)


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


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def _write_samples(path, samples):
    sf.write(path, samples, 8000, subtype="FLOAT")
    return path
